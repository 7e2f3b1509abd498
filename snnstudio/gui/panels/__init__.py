"""One module per panel; each panel is a QWidget that subscribes to a :class:`SessionModel`."""
