"""`cmmnet reproduce`: the paper's Tables 1-3 and Fig. 8 on UvA-NEMO, DISFA and DISFA+ with one command
(prepare -> train -> evaluate -> study kit -> report), every stage resumable. See docs/reproduce.md."""

from .plan import DatasetSpec, Plan, ReproduceConfig, Stage, build_plan, dataset_specs
from .state import check_settings, run_stages

__all__ = ["DatasetSpec", "Plan", "ReproduceConfig", "Stage", "build_plan", "check_settings", "dataset_specs",
           "run_stages"]
