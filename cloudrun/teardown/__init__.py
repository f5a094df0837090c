"""The teardown room: stopping the meter when nobody uses an endpoint.

idle (the pure rules: idle, TTL, budget, credit run-out), fleet (the clouds reconciled with the state), deletion
(the one delete path every command shares), sweep (teardown, down --all and watch, built from those), exporter
(Prometheus metrics of the same facts).
"""

from cloudrun.teardown.sweep import DEFAULT_WORKERS as DEFAULT_WORKERS
from cloudrun.teardown.sweep import Outcome as Outcome
from cloudrun.teardown.sweep import TeardownReport as TeardownReport
from cloudrun.teardown.sweep import check as check
from cloudrun.teardown.sweep import delete_concurrently as delete_concurrently
from cloudrun.teardown.sweep import down_all as down_all
from cloudrun.teardown.sweep import watch as watch
