"""Every bound cloudrun puts on what a user hands it, each with the reason it is where it is.

A bound is far above anything real (so no real model, catalog or credit is refused) and far below what would
exhaust the machine or overflow the arithmetic (so a typo or a hostile file is refused in a line, not in a
traceback or an hour of CPU). Change one here and every check that uses it follows.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

# --- files, read before they are parsed ------------------------------------------------------------------------

# A model's config.json is a few KB (DeepSeek V3's is 1.7 KB); the Hugging Face Hub fetch used this cap already.
MAX_CONFIG_BYTES = 1_000_000
# A credits file lists a handful of grants at ~200 bytes each: 1 MB holds thousands.
MAX_CREDITS_BYTES = 1_000_000
# The bundled snapshot is 60 KB for 132 rows with long sources; 64 MB holds 100,000 such rows, twice the
# 50,000-offer catalog bench_plan.py times, and a refreshed cache of all three clouds is a few thousand rows.
MAX_CATALOG_BYTES = 64_000_000
# JSON nesting: a config.json nests 4 levels (quantization_config.config_groups.group.weights), a credits file 2.
# 32 is far above both, and far below Python's recursion limit, which a deeper file would hit while parsing.
MAX_JSON_DEPTH = 32
# A number in a config or credits file: the largest real value (a 10M-token context) has 8 digits. Python refuses
# to parse integers of more than 4,300 digits at all; 20 digits (above 2**64) is the cap.
MAX_NUMBER_DIGITS = 20
# Nobody holds a thousand credits at once; the planner's cost grows with the grant count.
MAX_GRANTS = 1000

# --- model configs (Hugging Face config.json): (smallest, largest) --------------------------------------------
# The largest real values, 2026: 126 layers (Llama 3.1 405B), hidden 16,384 and intermediate 53,248 (405B),
# 128 attention heads (405B, DeepSeek V3), head_dim 256 (Gemma), vocabulary 262,144 (Gemma 3), 10M-token context
# (Llama 4 Scout), 384 routed experts (Kimi K2). Each cap leaves 3x-16x headroom; what is above is not a model,
# and sizing walks the layers one by one (10^9 layers took 12.5 GB and minutes before this cap).
CONFIG_COUNTS: dict[str, tuple[int, int]] = {
    "num_hidden_layers": (1, 1024),
    "hidden_size": (1, 131_072),
    "intermediate_size": (1, 1_048_576),
    "moe_intermediate_size": (1, 1_048_576),
    "num_attention_heads": (1, 1024),
    "num_key_value_heads": (1, 1024),
    "head_dim": (1, 1024),
    "vocab_size": (1, 4_194_304),
    "max_position_embeddings": (1, 33_554_432),
    "kv_lora_rank": (1, 131_072),
    "q_lora_rank": (1, 131_072),
    "qk_rope_head_dim": (1, 1024),
    "qk_nope_head_dim": (1, 1024),
    "v_head_dim": (1, 1024),
    "n_routed_experts": (1, 4096),
    "n_shared_experts": (0, 64),
    "first_k_dense_replace": (0, 1024),
    "moe_layer_freq": (1, 1024),
}
# Quantized checkpoints: AWQ/GPTQ store 2, 3, 4 or 8 bits a weight, in groups of 32-128 weights or one group per row
# (-1, or the row's length: at most the largest hidden size above).
QUANT_BITS = (2, 3, 4, 8)
MAX_QUANT_GROUP = 65_536

# --- catalogs: one instance type's shape and price ----------------------------------------------------------------
# The most GPUs on one managed-endpoint instance is 16 (Vertex a2-megagpu-16g); 64 leaves room for what comes next
# and keeps the tensor-parallel search (a loop over the GPU count) trivial.
MAX_GPU_COUNT = 64
# GPU memory per GPU, decimal GB: the largest GPU sold is 288 GB (NVIDIA B300, AMD MI355X); the smallest in any
# of the three services is 16 GB (T4). 1 GB catches a figure given in TB; 1,024 GB one given in MB.
MIN_GPU_MEMORY_GB, MAX_GPU_MEMORY_GB = Decimal(1), Decimal(1024)
# vCPUs and host memory: the largest GPU instances have 208 vCPUs (a3-highgpu-8g) and 2,048 GiB (ml.p5.48xlarge).
MAX_VCPUS = 4096
MIN_MEMORY_GB, MAX_MEMORY_GB = Decimal(1), Decimal(65_536)
# The dearest GPU on any of the three services costs a few tens of dollars an hour; far above is an error (the
# same rule `catalog refresh` applies to every fetched price). The cheapest GPU hour sold is ~$0.10 (a T4 on spot):
# a tenth of a cent is a unit error or a typo, and would rank an option nobody can buy first.
MAX_USD_PER_GPU_HOUR = Decimal(500)
MIN_USD_PER_HOUR = Decimal("0.001")
# Free text shown in tables: the longest source in the bundled snapshot is 473 characters.
MAX_SOURCE_CHARS = 2000

# --- money, time, counts from flags and files ---------------------------------------------------------------------
# The largest credit programmes grant up to $350,000 (Google for Startups, AI tier); a year of the dearest instance
# (8 x H100, ~$100/h) is under $900,000. A million dollars is above both; above it is a typo (--amount 1e400), and the
# cap keeps every sum of money x hours exact in Decimal's 28 digits.
MAX_USD = Decimal(1_000_000)
# Plans, limits and waits: credits expire within a year and the clouds bill by the hour; a year (a leap one) is the
# longest span any flag means. A second is the shortest: the clouds' metrics have minutes, not microseconds, and a
# duration that rounds to zero (0.0000001s) would make `teardown --idle` remove everything.
MIN_DURATION = timedelta(seconds=1)
MAX_DURATION = timedelta(days=366)
MAX_HOURS = Decimal(366 * 24)
# Every date cloudrun meets (a price's as_of, a credit's start and expiry) lies in this century; outside it is a
# typo (2999), and a date at the calendar's edge with an offset (9999-12-31T23:59-05:00) overflows on the way to UTC.
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
# vLLM batches 256 sequences by default (--max-num-seqs); 4,096 at once is far beyond any one endpoint.
MAX_CONCURRENCY = 4096
# Deletions at once (`teardown --concurrency`): each is a thread making cloud calls, and the clouds throttle long
# before 64 parallel deletes.
MAX_WORKERS = 64
# A reply longer than the largest context any model has is not a reply.
MAX_REPLY_TOKENS = 33_554_432
# Names and labels the user gives (a credit's name, an account): shown in tables, stored in the state file.
MAX_LABEL_CHARS = 64
