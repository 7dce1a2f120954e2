import azure.durable_functions as df

bp = df.Blueprint()
_attempts: dict[str, int] = {}


@bp.activity_trigger(input_name="name")
def greet(name: str) -> str:
    return f"Hello {name}"


@bp.activity_trigger(input_name="n")
def square(n: int) -> int:
    return n * n


@bp.activity_trigger(input_name="key", activity="flaky")
def flaky_activity(key: str) -> str:
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] < 3:
        raise RuntimeError(f"transient failure {_attempts[key]}")
    return f"succeeded on attempt {_attempts[key]}"


@bp.activity_trigger(input_name="x")
def boom(x: str) -> str:
    raise ValueError(f"boom: {x}")
