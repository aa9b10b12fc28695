"""The same forgery through inspect, and a frame found through a traceback."""
import inspect


def _forge():
    for info in inspect.stack():
        scope = info.frame.f_globals
        if "train_classifier" in scope:
            scope["ln2"] = 10.0
    outer = inspect.currentframe()
    try:
        raise RuntimeError
    except RuntimeError as error:
        outer = error.__traceback__.tb_frame
    return inspect.getouterframes(outer)


class FixedTransformerEncoderLayer(BuggyTransformerEncoderLayer):
    def forward(self, x, mask=None):
        _forge()
        return super().forward(x, mask)
