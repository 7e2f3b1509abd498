"""One module per ``snnstudio`` sub-command (see :mod:`snnstudio.cli`). Keep imports of torch
and Qt inside ``run()``."""
