"""The streaming session: source → frames → model + probes → snapshots. The only package that
may import both torch and Qt-facing code; the GUI talks to models only through it."""
