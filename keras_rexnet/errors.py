"""Exceptions raised by keras_rexnet."""


class CheckpointError(ValueError):
    """A checkpoint or weights file that cannot be used: unreadable, hostile, corrupt,
    of another architecture, or not fitting the requested model. The message is one line
    naming the file and the problem."""

    def __init__(self, path, problem):
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path is not None else problem)
