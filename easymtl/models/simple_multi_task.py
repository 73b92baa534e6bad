"""simple_multi_task: every tower reads the concatenated feature groups directly."""

from easymtl.models import MODELS


@MODELS.register("simple_multi_task")
def build_simple_multi_task(config, num_tasks: int) -> None:
    return None
