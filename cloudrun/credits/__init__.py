"""The credits room: what free credit a user holds, what it may pay for, and how long it lasts.

rules (the eligibility rules and how a plan spends credit; a --credits file), ledger (grants and observations
kept in the state file), presets (the grants the clouds give, with their sources), sync (live balances on
`credits sync`, each cloud's reader found through the `cloudrun.balances` entry points), burn and runway (what
running deployments cost each grant, and when it runs out). The rules are the package's face.
"""

from cloudrun.credits.rules import MICRO_USD as MICRO_USD
from cloudrun.credits.rules import apply_credits as apply_credits
from cloudrun.credits.rules import ineligible_reason as ineligible_reason
from cloudrun.credits.rules import load_grants as load_grants
from cloudrun.credits.rules import paid_until as paid_until
from cloudrun.credits.rules import parse_time as parse_time
from cloudrun.credits.rules import spend as spend
from cloudrun.credits.rules import usable_grants as usable_grants
