"""The one error of a training run."""


class TrainError(RuntimeError):
    """Training cannot go on; the message tells the user what to do."""
