"""A DV network stream server for the tests, run as a separate process
(``python dv_writer_peer.py PORT N PACKETS [hold]``).

Serves a 64x48 event stream on 127.0.0.1:PORT with dv-processing's own ``NetworkWriter``,
prints ``ready``, waits for ``go`` on stdin, sends N deterministic events (``peer_events``)
in PACKETS packets, waits until they left, then vanishes (``os._exit``) like a crashed peer.
With ``hold`` it instead waits for a client, prints ``client`` and then streams on forever
(N events per PACKETS·10 ms, continuing ``peer_events``) until killed: a live camera.
It runs in its own process because dv's writer cannot be destroyed in-process while a
client is connected (its destructor waits holding the GIL).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

SIZE = (64, 48)


def peer_events(n: int, start: int = 0) -> np.ndarray:
    """Events ``start .. start + n`` of what the peer sends (t, x, y, p columns): the tests' oracle."""
    i = np.arange(start, start + n, dtype=np.int64)
    return np.stack([1_700_000_000_000_000 + i * 37, (i * 7) % SIZE[0], (i * 5) % SIZE[1], i % 2], axis=1)


def _store(dv, rows: np.ndarray):
    store = dv.EventStore()
    for t, x, y, p in rows:
        store.push_back(int(t), int(x), int(y), bool(p))
    return store


def main() -> None:
    import dv_processing as dv

    port, n, packets = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    hold = sys.argv[4:] == ["hold"]
    stream = dv.io.Stream.EventStream(0, "events", "PeerCam_T01", SIZE)
    writer = dv.io.NetworkWriter("127.0.0.1", port, stream, 10, lambda code, msg: None)
    print("ready", flush=True)
    if hold:
        while writer.getClientCount() == 0:
            time.sleep(0.01)
        print("client", flush=True)
        sent = 0
        while True:
            writer.writeEvents(_store(dv, peer_events(n, sent)))
            sent += n
            time.sleep(0.01 * packets)
    if sys.stdin.readline().strip() != "go":
        os._exit(2)
    ev = peer_events(n)
    for chunk in np.array_split(ev, packets):
        writer.writeEvents(_store(dv, chunk))
    deadline = time.monotonic() + 5
    while writer.getQueuedPacketCount() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    os._exit(0)


if __name__ == "__main__":
    main()
