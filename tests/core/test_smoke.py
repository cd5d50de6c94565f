from withscope.core import Outcome, Recorder, track


class CM:
    def __enter__(self) -> int:
        return 42

    def __exit__(self, *exc: object) -> None:
        return None


def test_with_records_one_released_lifetime() -> None:
    with Recorder() as rec, track(CM()) as value:
        assert value == 42
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.site is not None
    assert lt.site.endswith("test_smoke.py:13")
