"""Qt main window and panels. Never imports torch: everything about models comes through
:mod:`snnstudio.engine` as snapshots of numpy arrays."""
