"""DV network stream client against dv-processing's own NetworkWriter (loopback, another process)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from sources_helpers import read_back

from snnstudio.errors import DeviceNotFoundError, SourceError
from snnstudio.events.sources import SourceSpecError, open_source
from snnstudio.events.sources.network import NetworkEventSource, probe_dv_stream

pytest.importorskip("dv_processing")
PEER = Path(__file__).with_name("dv_writer_peer.py")
sys.path.insert(0, str(PEER.parent))
from dv_writer_peer import SIZE, peer_events  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def peer():
    """Start the writer process; yields (port, proc); kills it at the end."""
    procs = []

    def start(n: int, packets: int = 3, hold: bool = False):
        port = _free_port()
        proc = subprocess.Popen([sys.executable, str(PEER), str(port), str(n), str(packets), *(["hold"] if hold else [])],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "ready"
        return port, proc

    yield start
    for p in procs:
        p.kill()
        p.wait(5)


def test_receives_exactly_what_the_peer_sent_then_its_vanishing_is_a_source_error(peer):
    port, proc = peer(n=900, packets=3)
    src = open_source(f"network:127.0.0.1:{port}")
    assert isinstance(src, NetworkEventSource)
    assert src.sensor_size == SIZE and src.camera_name == "PeerCam_T01"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    got = []
    with pytest.raises(SourceError, match=f"127.0.0.1:{port}: the peer closed the stream"):
        for b in src.batches():
            got.append(b)
    ev = np.concatenate([b.events for b in got])
    oracle = peer_events(900)
    assert np.array_equal(np.stack([ev["t"], ev["x"], ev["y"], ev["p"]], axis=1), oracle)
    assert all(a.t_end_us == b.t_start_us for a, b in zip(got, got[1:]))


def test_connection_refused_is_device_not_found():
    port = _free_port()
    with pytest.raises(DeviceNotFoundError, match=f"no DV event stream at 127.0.0.1:{port}: connection refused"):
        open_source(f"network:127.0.0.1:{port}")


def _serve_once(payload: bytes | None):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    done = threading.Event()

    def run():
        conn, _ = srv.accept()
        with conn:
            if payload:
                conn.sendall(payload)
            done.wait(2.0)
        srv.close()

    threading.Thread(target=run, daemon=True).start()
    return srv.getsockname()[1], done


def test_garbage_on_the_port_is_a_clear_error():
    port, done = _serve_once(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>")
    try:
        with pytest.raises(SourceError, match="does not speak the DV network protocol") as info:
            NetworkEventSource("127.0.0.1", port, timeout_s=2.0)
        assert not isinstance(info.value, DeviceNotFoundError)
        assert "\n" not in str(info.value)
    finally:
        done.set()


def test_a_silent_server_times_out_with_a_clear_error():
    port, done = _serve_once(None)
    try:
        with pytest.raises(SourceError, match="sent no DV stream header within 0.3 s"):
            probe_dv_stream("127.0.0.1", port, timeout_s=0.3)
    finally:
        done.set()


def test_a_server_hanging_up_at_once_is_a_clear_error():
    port, done = _serve_once(b"\x01\x02")
    done.set()
    with pytest.raises(SourceError, match="closed the connection before sending a DV stream header"):
        probe_dv_stream("127.0.0.1", port, timeout_s=2.0)


@pytest.mark.parametrize("spec", ["network:", "network:127.0.0.1", "network:127.0.0.1:http", "network::7777"])
def test_malformed_network_specs(spec):
    with pytest.raises(SourceSpecError):
        open_source(spec)


def test_port_out_of_range():
    with pytest.raises(SourceError, match="outside 1-65535"):
        NetworkEventSource("127.0.0.1", 70000)


def test_ctrl_c_while_recording_a_live_stream_leaves_a_complete_file(peer, tmp_path):
    import os
    import signal
    import time

    port, proc = peer(n=50, packets=2, hold=True)  # streams 50 events every 20 ms until killed
    out = tmp_path / "live.aedat4"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    rec = subprocess.Popen([sys.executable, "-m", "snnstudio", "record", "--source", f"network:127.0.0.1:{port}",
                            "--seconds", "60", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "client"
        time.sleep(1.5)  # the recorder is connected and writing
        rec.send_signal(signal.SIGINT)
        stdout, stderr = rec.communicate(timeout=20)
    finally:
        rec.kill()
    assert rec.returncode == 130, stderr
    assert "interrupted" in stderr
    ev, size, name = read_back(out)
    assert size == SIZE and name == "PeerCam_T01"
    assert len(ev) > 0 and f"recorded {len(ev)} events" in stdout
    # what was recorded is an unbroken stretch of the peer's stream
    first = int((ev["t"][0] - peer_events(1)[0, 0]) // 37)
    assert np.array_equal(np.stack([ev["t"], ev["x"], ev["y"], ev["p"]], axis=1), peer_events(len(ev), first))
