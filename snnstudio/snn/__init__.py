"""The SNN library: neurons, surrogate gradients, attention (MA-SNN), Spikformer, residual
blocks, the model zoo and checkpoints. Pure dynamics live in functional form with thin
``nn.Module`` wrappers around them. Nothing here imports Qt.
"""
