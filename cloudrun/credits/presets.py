"""Presets for the credit programmes users actually hold, with each rule's uncertainty visible.

Every rule carries `verified` and a `note` naming the public page, document or file it comes from.
Where cloudrun cannot see a fact (has the account been upgraded? does this credit pay for GPU endpoints?)
the preset takes the cautious side and `--upgraded` / `--gpu-eligible` let the user say otherwise.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from cloudrun.credits.ledger import LedgerGrant, new_id, to_amount, validate
from cloudrun.credits.rules import parse_time
from cloudrun.errors import InvalidInput
from cloudrun.models import PROVIDERS, SERVICES


@dataclass(frozen=True)
class Rule:
    text: str
    verified: bool
    note: str


@dataclass(frozen=True)
class Preset:
    name: str
    provider: str
    title: str
    amount_usd: Decimal | None  # None: the user gives --amount
    max_amount_usd: Decimal | None  # "up to $200": a larger --amount is refused
    months: int | None  # None: the user gives --expires
    days: int | None
    gpu_eligible: bool  # the default, before --upgraded / --gpu-eligible
    gpu_unlock: str | None  # "upgraded", "gpu-eligible", or None (already eligible)
    rules: tuple[Rule, ...]

    @property
    def services(self) -> tuple[str, ...]:
        return (SERVICES[self.provider],)


# The public pages behind the rules (cited in each note).
_GCP_FREE = "docs.cloud.google.com/free/docs/free-cloud-features"
_AZURE_DOCS = "MicrosoftDocs/azure-docs articles/cost-management-billing/manage/"
_AWS_FREE = ("aws/agent-toolkit-for-aws skills/core-skills/aws-billing-and-cost-management/references/free-tier.md "
             "(AWS Free Tier: Free plan and Paid plan since 2025-07-15)")
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("gcp-free-trial", "gcp", "Google Cloud Free Trial", Decimal(300), None, None, 90, False, "upgraded", (
        Rule("$300 Welcome credit for 90 days from sign-up", True, _GCP_FREE),
        Rule("no GPUs and no quota increases until the account is upgraded (--upgraded)", False,
             f"{_GCP_FREE} ('Add GPUs to your VM instances', 'Request a quota increase' are not available during the "
             "Free Trial), as quoted by public notes; whether it also blocks Vertex AI serving is unverified"),
        Rule("after upgrading, unused credit is kept until day 90 from sign-up, not longer", False,
             f"{_GCP_FREE}, as quoted by public notes"),
    )),
    Preset("azure-free-account", "azure", "Azure free account", Decimal(200), None, None, 30, False, "upgraded", (
        Rule("$200 credit for the first 30 days", True, f"{_AZURE_DOCS}avoid-charges-free-account.md"),
        Rule("trial subscriptions get no quota increases and GPU quota defaults to 0: no GPU until upgraded "
             "(--upgraded)", True, "MicrosoftDocs/azure-docs articles/azure-resource-manager/management/"
             "azure-subscription-service-limits.md; MicrosoftDocs/azure-ai-docs articles/machine-learning/"
             "how-to-manage-quotas.md"),
        Rule("after upgrading, remaining credit still ends on day 30", True,
             f"{_AZURE_DOCS}upgrade-azure-subscription.md"),
    )),
    Preset("azure-students", "azure", "Azure for Students", Decimal(100), None, 12, None, False, "gpu-eligible", (
        Rule("$100 credit usable within 12 months, no credit card", True,
             "azure.microsoft.com/offers/ms-azr-0170p (Azure for Students offer terms)"),
        Rule("whether it can get GPU (N-series) quota is unknown: not counted unless --gpu-eligible", False,
             "neither azure.microsoft.com/offers/ms-azr-0170p nor azure-ai-docs how-to-manage-quotas.md says"),
    )),
    Preset("aws-free-plan", "aws", "AWS Free plan credits", Decimal(200), Decimal(200), 6, None, False,
           "gpu-eligible", (
        Rule("up to $200 credit ($100 at sign-up + up to $100 for activities) for 6 months", True, _AWS_FREE),
        Rule("whether a Free-plan account can run SageMaker GPU endpoints is unknown: not counted unless "
             "--gpu-eligible (upgrade to the Paid plan to be sure)", False,
             f"{_AWS_FREE} lists no Free-plan services or instance types"),
    )),
    Preset("aws-paid-plan", "aws", "AWS Paid plan credits", Decimal(200), Decimal(200), 6, None, True, None, (
        Rule("up to $200 credit for 6 months; usage beyond it is charged", True, _AWS_FREE),
        Rule("assumed to pay for SageMaker GPU endpoints (credits cover 'eligible services')", False,
             "unverified: the credit's eligible services show in the Billing console, Credits pane "
             "(repost.aws/knowledge-center/credits-ri)"),
    )),
    Preset("aws-activate", "aws", "AWS Activate", None, None, None, None, True, None, (
        Rule("amount and expiry as on your Activate offer (--amount, --expires)", True, "your offer"),
        Rule("general-purpose Activate credit covers SageMaker, not Marketplace", False,
             "cloudroutehq.com/aws-credits/aws-credit-services-covered (secondary)"),
    )),
    Preset("google-for-startups", "gcp", "Google for Startups Cloud Program", None, None, None, None, True, None, (
        Rule("amount and expiry as on your offer (--amount, --expires)", True, "your offer"),
        Rule("assumed to pay for Vertex AI GPU serving", False, "unverified: check your offer's terms"),
    )),
    Preset("microsoft-for-startups", "azure", "Microsoft for Startups (Founders Hub)", None, None, None, None,
           True, None, (
        Rule("amount and expiry as on your offer (--amount, --expires)", True, "your offer"),
        Rule("assumed to pay for Azure ML GPU endpoints; GPU quota still needs a request", False,
             "unverified: check your offer's terms"),
    )),
)}  # fmt: skip


def get(name: str) -> Preset:
    """Return the preset of that name, or raise InvalidInput listing them."""
    if name not in PRESETS:
        raise InvalidInput(f"no credit preset {name!r}", hint=f"choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def add_months(moment: datetime, months: int) -> datetime:
    """Return the same day `months` later (the month's last day when it is shorter)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def build(
    preset: Preset,
    *,
    now: datetime,
    starts_at: datetime | None = None,
    amount_usd: Decimal | None = None,
    expires_at: datetime | None = None,
    upgraded: bool = False,
    gpu_eligible: bool = False,
    name: str | None = None,
    account: str = "default",
    currency: str = "USD",
) -> LedgerGrant:
    """Return the ledger grant a preset makes from what the user said; raise InvalidInput on what contradicts it."""
    notes = [f"{'verified' if r.verified else 'UNVERIFIED'}: {r.text} ({r.note})" for r in preset.rules]
    if starts_at is None:
        starts_at = now
        notes.append("start assumed to be today: pass --starts with your sign-up date")
    amount = _amount(preset, amount_usd)
    return validate(LedgerGrant(
        id=new_id(), provider=preset.provider, account=account, name=preset.name if name is None else name,
        amount_usd=amount, currency=currency, starts_at=starts_at, expires_at=expires_at or _expiry(preset, starts_at),
        services=preset.services, gpu_eligible=_gpu(preset, upgraded, gpu_eligible), source="preset",
        preset=preset.name, notes="; ".join(notes), created_at=now,
    ))  # fmt: skip


def _amount(preset: Preset, amount: Decimal | None) -> Decimal:
    if amount is None:
        if preset.amount_usd is None:
            raise InvalidInput(f"preset {preset.name} needs --amount: the amount on your offer")
        return preset.amount_usd
    if preset.max_amount_usd is not None and amount > preset.max_amount_usd:
        raise InvalidInput(f"preset {preset.name} grants at most ${preset.max_amount_usd}, not ${amount}")
    return amount


def _expiry(preset: Preset, starts_at: datetime) -> datetime:
    if preset.days is not None:
        return starts_at + timedelta(days=preset.days)
    if preset.months is not None:
        return add_months(starts_at, preset.months)
    raise InvalidInput(f"preset {preset.name} needs --expires: the expiry date on your offer")


def _gpu(preset: Preset, upgraded: bool, gpu_eligible: bool) -> bool:
    """Return whether the credit may pay for GPU endpoints, by the preset's rule and the user's word."""
    if preset.gpu_unlock == "upgraded":
        if gpu_eligible:
            raise InvalidInput(f"{preset.title} credit pays for GPUs only once the account is upgraded",
                               hint="pass --upgraded if you have upgraded it")  # fmt: skip
        return upgraded
    if upgraded:
        hint = "add it with --preset aws-paid-plan" if preset.name == "aws-free-plan" else "use --gpu-eligible"
        raise InvalidInput(f"--upgraded does not apply to {preset.title}", hint=hint)
    return preset.gpu_eligible or gpu_eligible


def grant_from_flags(
    *,
    now: datetime,
    preset: str | None = None,
    provider: str | None = None,
    amount: str | Decimal | None = None,
    currency: str = "USD",
    expires: str | None = None,
    starts: str | None = None,
    services: Sequence[str] | None = None,
    gpu_eligible: bool = False,
    upgraded: bool = False,
    name: str | None = None,
    account: str = "default",
) -> LedgerGrant:
    """Return the grant `credits add` describes: from a --preset's rules, or by hand (--provider, --amount,
    --expires); every value checked, nothing saved."""
    currency = currency.strip().upper() if isinstance(currency, str) else currency  # stored as USD, whatever the case
    fields = {
        "amount_usd": to_amount(amount) if amount is not None else None,
        "starts_at": parse_time(starts, "--starts") if starts else None,
        "expires_at": parse_time(expires, "--expires") if expires else None,
    }
    if preset:
        if provider or services:
            raise InvalidInput("--preset sets the provider and services", hint="drop --provider/--services")
        return build(get(preset), now=now, upgraded=upgraded, gpu_eligible=gpu_eligible, name=name, account=account,
                     currency=currency, **fields)  # fmt: skip
    if provider not in PROVIDERS:
        raise InvalidInput("--provider aws, gcp or azure is needed without --preset", hint="or use --preset")
    if fields["amount_usd"] is None or fields["expires_at"] is None:
        raise InvalidInput("--amount and --expires are needed without --preset")
    if upgraded:
        raise InvalidInput("--upgraded applies to trial presets", hint="say --gpu-eligible if it pays for GPUs")
    return validate(LedgerGrant(
        id=new_id(), provider=provider, account=account,
        name=f"{provider}-credit-{now:%Y%m%d}" if name is None else name,
        amount_usd=fields["amount_usd"], currency=currency, starts_at=fields["starts_at"] or now,
        expires_at=fields["expires_at"], services=(SERVICES[provider],) if services is None else tuple(services),
        gpu_eligible=gpu_eligible, source="manual", created_at=now,
    ))  # fmt: skip
