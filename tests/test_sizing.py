"""Sizing arithmetic: parameter counts, weight and KV bytes, built-in configs, and bad input."""

from __future__ import annotations

import json

import pytest

from cloudrun import sizing
from cloudrun.errors import InvalidInput
from cloudrun.models import Precision

# hidden 8, 2 heads of 4 (MHA), 2 layers, MLP 16, vocab 10, untied lm_head.
TINY_MHA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8,
    "intermediate_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "vocab_size": 10,
    "tie_word_embeddings": False,
    "max_position_embeddings": 64,
}
# embeddings 10*8 = 80, lm_head 80                                              -> 160
# per layer: q, k, v, o 4 * 8*8 = 256; MLP 3 * 8*16 = 384; 2 norms 2*8 = 16     -> 656, x2 = 1312
# final norm 8                                                                  -> 1480
TINY_MHA_PARAMS = 160 + 2 * (256 + 384 + 16) + 8
TINY_MHA_LINEAR = 2 * (256 + 384)  # 1280 quantisable; 200 stay 16-bit

# hidden 8, 4 query heads and 2 KV heads of 2 (GQA), 1 layer, MLP 12, vocab 10, tied, Qwen2 q/k/v biases.
TINY_GQA_QWEN = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 8,
    "intermediate_size": 12,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 10,
    "tie_word_embeddings": True,
    "max_position_embeddings": 32768,
}
# embeddings 80, tied so no lm_head                                             -> 80
# q 8*(4*2) = 64 + bias 8; k 8*(2*2) = 32 + bias 4; v 32 + bias 4; o 8*8 = 64   -> 208
# MLP 3 * 8*12 = 288; 2 norms 16; final norm 8                                  -> 312
TINY_GQA_PARAMS = 80 + 208 + 288 + 16 + 8  # 600

# DeepSeek-V3-shaped: hidden 8, 2 heads, 2 layers (layer 0 dense, layer 1 MoE), vocab 10, untied.
TINY_MLA_MOE = {
    "architectures": ["DeepseekV3ForCausalLM"],
    "model_type": "deepseek_v3",
    "hidden_size": 8,
    "intermediate_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "vocab_size": 10,
    "tie_word_embeddings": False,
    "max_position_embeddings": 4096,
    "q_lora_rank": 4,
    "kv_lora_rank": 4,
    "qk_rope_head_dim": 2,
    "qk_nope_head_dim": 2,
    "v_head_dim": 2,
    "n_routed_experts": 4,
    "n_shared_experts": 1,
    "moe_intermediate_size": 4,
    "first_k_dense_replace": 1,
    "moe_layer_freq": 1,
    "num_experts_per_tok": 2,
}
# embeddings 80 + lm_head 80                                                    -> 160
# attention per layer: q_a 8*4 = 32, q_a_layernorm 4, q_b 4*2*(2+2) = 32,
#   kv_a_proj_with_mqa 8*(4+2) = 48, kv_a_layernorm 4, kv_b 4*2*(2+2) = 32,
#   o 2*2*8 = 32                                                                -> 184, x2 = 368
# layer 0 dense MLP 3 * 8*16                                                    -> 384
# layer 1 MoE: (4 routed + 1 shared) * 3 * 8*4 = 480, router 4*8 = 32,
#   e_score_correction_bias 4                                                   -> 516
# norms 2 per layer * 2 * 8 = 32, final 8                                       -> 40
TINY_MLA_MOE_PARAMS = 160 + 2 * 184 + 384 + 516 + 40  # 1468

# The same with V2-Lite's choices: no q LoRA (one q_proj 8*2*(2+2) = 64 instead of 32+4+32 = 68 per
# layer) and the V2 router (no correction bias): 1468 - 2*4 - 4 = 1456.
TINY_MLA_V2 = {**TINY_MLA_MOE, "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2"}
TINY_MLA_V2["q_lora_rank"] = None
TINY_MLA_V2_PARAMS = 1456

# Published totals (model cards / Hub parameter counts; V3/R1 exclude the 14B MTP module).
PUBLISHED_PARAMS = {
    "deepseek-ai/deepseek-llm-7b-base": 7.0e9,
    "deepseek-ai/deepseek-llm-7b-chat": 7.0e9,
    "deepseek-ai/deepseek-llm-67b-base": 67.0e9,
    "deepseek-ai/deepseek-llm-67b-chat": 67.0e9,
    "deepseek-ai/DeepSeek-V2-Lite": 15.7e9,
    "deepseek-ai/DeepSeek-V2-Lite-Chat": 15.7e9,
    "deepseek-ai/DeepSeek-V3": 671e9,
    "deepseek-ai/DeepSeek-R1": 671e9,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": 1.78e9,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": 7.62e9,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": 14.8e9,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": 32.8e9,
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": 8.03e9,
    "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": 70.6e9,
}


def write_config(tmp_path, cfg, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    return path


# --- parameter counts ------------------------------------------------------------------------------


def test_tiny_mha_param_count():
    assert sizing.count_params(TINY_MHA) == TINY_MHA_PARAMS == 1480
    assert sizing.param_counts(TINY_MHA).linear == TINY_MHA_LINEAR


def test_tiny_gqa_qwen_counts_biases_and_ties_embeddings():
    assert sizing.count_params(TINY_GQA_QWEN) == TINY_GQA_PARAMS == 600
    untied = {**TINY_GQA_QWEN, "tie_word_embeddings": False}
    assert sizing.count_params(untied) == 600 + 80


def test_llama_attention_bias_adds_q_k_v_o_biases():
    # q 8 + k 8 + v 8 + o 8 per layer, 2 layers
    assert sizing.count_params({**TINY_MHA, "attention_bias": True}) == TINY_MHA_PARAMS + 2 * 32


def test_head_dim_from_config_overrides_hidden_over_heads():
    # head_dim 8 instead of 4: q, k, v each 8*16 = 128, o 16*8 = 128 -> 512 a layer instead of 256
    assert sizing.count_params({**TINY_MHA, "head_dim": 8}) == TINY_MHA_PARAMS + 2 * 256


def test_tiny_mla_moe_param_count():
    assert sizing.count_params(TINY_MLA_MOE) == TINY_MLA_MOE_PARAMS == 1468


def test_tiny_mla_without_q_lora_and_v2_router():
    assert sizing.count_params(TINY_MLA_V2) == TINY_MLA_V2_PARAMS


def test_moe_layer_freq_makes_every_other_layer_dense():
    # 3 layers, first_k_dense_replace 1, freq 2: layer 0 dense, layer 1 dense (1 % 2), layer 2 MoE
    cfg = {**TINY_MLA_MOE, "num_hidden_layers": 3, "moe_layer_freq": 2}
    expected = 160 + 3 * 184 + 2 * 384 + 516 + (3 * 16 + 8)
    assert sizing.count_params(cfg) == expected


# --- KV cache and precision --------------------------------------------------------------------------


def test_kv_bytes_mha_gqa_mla():
    assert sizing.kv_bytes_per_token(TINY_MHA) == 2 * 2 * 2 * 4 * 2  # K+V, 2 layers, 2 heads, dim 4, 2 B
    assert sizing.kv_bytes_per_token(TINY_GQA_QWEN) == 2 * 1 * 2 * 2 * 2  # only the 2 KV heads
    assert sizing.kv_bytes_per_token(TINY_MLA_MOE) == 2 * (4 + 2) * 2  # latent 4 + rope key 2, 2 layers


def test_kv_cache_stays_16_bit_whatever_the_weight_precision():
    for precision in Precision:
        assert sizing.kv_bytes_per_token(TINY_MHA, precision) == 64


def test_weight_bytes_per_precision():
    params = TINY_MHA_PARAMS
    sixteen_bit = params - TINY_MHA_LINEAR  # embeddings, lm_head, norms: 200
    assert sizing.weights_bytes(TINY_MHA, params, Precision.bf16) == 2 * 1480
    assert sizing.weights_bytes(TINY_MHA, params, "fp8") == 2 * sixteen_bit + 1280
    assert sizing.weights_bytes(TINY_MHA, params, "int8") == 2 * sixteen_bit + 1280
    # 4 bits a weight plus a 2-byte scale and a 4-bit zero point per group of 128 (AWQ's layout): 640 + 10 * 2.5
    assert sizing.weights_bytes(TINY_MHA, params, "int4") == 2 * sixteen_bit + 640 + 20 + 5


def test_default_precision_follows_the_checkpoint():
    _, v3 = sizing.load_config("deepseek-ai/DeepSeek-V3", None)
    _, qwen = sizing.load_config("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", None)
    assert sizing.default_precision(v3) is Precision.fp8
    assert sizing.default_precision(qwen) is Precision.bf16


# --- built-in models -----------------------------------------------------------------------------------


def test_67b_chat_numbers():
    need = sizing.need("deepseek-ai/deepseek-llm-67b-chat")
    assert need.params == pytest.approx(67.4e9, rel=0.005)
    assert need.weights_bytes == pytest.approx(134.9e9, rel=0.005)
    assert need.kv_bytes_per_token == 2 * 95 * 8 * 128 * 2 == 389_120  # 380 KiB (95 layers, GQA 8 KV heads)
    assert need.precision is Precision.bf16
    assert need.context == 4096
    assert need.kv_heads == 8 and need.attention_heads == 64
    assert need.required_bytes == need.weights_bytes + 389_120 * 4096 + sizing.OVERHEAD_PER_GPU_BYTES


def test_deepseek_v3_matches_the_published_tensor_count_exactly():
    # 671,026,419,200: the per-tensor table of DeepSeek-V3's config (README_WEIGHTS.md), MTP excluded.
    _, cfg = sizing.load_config("deepseek-ai/DeepSeek-V3", None)
    assert sizing.count_params(cfg) == 671_026_419_200
    assert sizing.kv_bytes_per_token(cfg) == 61 * (512 + 64) * 2  # ~69 KiB (MLA, config_671B.json)


@pytest.mark.parametrize("model_id", sorted(PUBLISHED_PARAMS))
def test_builtin_totals_near_published_sizes(model_id):
    _, cfg = sizing.load_config(model_id, None)
    assert sizing.count_params(cfg) == pytest.approx(PUBLISHED_PARAMS[model_id], rel=0.02)


def test_builtin_ids_and_sources():
    assert sorted(sizing.builtin_ids()) == sorted(PUBLISHED_PARAMS)
    for model_id in sizing.builtin_ids():
        _, cfg = sizing.load_config(model_id, None)
        assert cfg["_source"] and cfg["_name_or_path"] in sizing.builtin_ids()


def test_builtin_kv_bytes_match_cloud_facts():
    kib = {
        "deepseek-ai/deepseek-llm-7b-chat": 480,
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": 28,
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": 56,
        "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": 128,
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": 192,
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": 256,
        "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": 320,
    }
    for model_id, expected in kib.items():
        assert sizing.need(model_id).kv_bytes_per_token == expected * 1024, model_id


def test_lookup_is_case_insensitive_and_returns_the_published_id():
    assert sizing.load_config("DEEPSEEK-AI/deepseek-v3", None)[0] == "deepseek-ai/DeepSeek-V3"


def test_need_for_mla_model():
    need = sizing.need("deepseek-ai/DeepSeek-V2-Lite-Chat", precision="int4", context=32768, concurrency=4)
    assert need.kv_heads is None
    assert need.architecture == "DeepseekV2ForCausalLM"
    assert need.max_context == 163840
    assert need.kv_cache_bytes == 27 * (512 + 64) * 2 * 32768 * 4
    assert need.weights_bytes < need.params * 2 // 3


def test_v3_defaults_to_fp8_weights():
    need = sizing.need("deepseek-ai/DeepSeek-R1")
    assert need.precision is Precision.fp8
    # linear weights 1 byte, ~2B embedding/lm_head/norm/router parameters at 2 bytes
    assert need.params < need.weights_bytes < need.params * 1.01


# --- --config files ------------------------------------------------------------------------------------


def test_config_file_id_comes_from_flag_then_name_or_path_then_file_name(tmp_path):
    path = write_config(tmp_path, TINY_MHA, "tiny.json")
    assert sizing.load_config(None, path)[0] == "tiny.json"
    named = write_config(tmp_path, {**TINY_MHA, "_name_or_path": "me/tiny"}, "named.json")
    assert sizing.load_config(None, named)[0] == "me/tiny"
    assert sizing.load_config("me/other", named)[0] == "me/other"
    assert sizing.need(None, config_path=path).params == TINY_MHA_PARAMS


def test_model_type_alone_identifies_the_architecture(tmp_path):
    cfg = {key: value for key, value in TINY_MHA.items() if key != "architectures"}
    need = sizing.need(None, config_path=write_config(tmp_path, cfg))
    assert need.architecture == "LlamaForCausalLM"


def test_default_context_is_capped_by_the_model(tmp_path):
    assert sizing.need(None, config_path=write_config(tmp_path, TINY_MHA)).context == 64


# --- bad input -----------------------------------------------------------------------------------------


def test_unknown_model_offline_says_to_pass_config(monkeypatch):
    monkeypatch.setenv("CLOUDRUN_OFFLINE", "1")
    with pytest.raises(InvalidInput) as caught:
        sizing.need("someone/not-a-built-in-model")
    assert "--config" in str(caught.value)
    assert "someone/not-a-built-in-model" in str(caught.value)


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_unknown_model_with_the_hub_unreachable(monkeypatch):
    # Tests run with sockets disabled (pytest-socket), so the fetch fails like a network outage.
    monkeypatch.delenv("CLOUDRUN_OFFLINE", raising=False)
    with pytest.raises(InvalidInput, match="Hugging Face Hub is not reachable") as caught:
        sizing.load_config("someone/not-a-built-in-model", None)
    assert "--config" in str(caught.value)


def test_malformed_id_is_not_sent_to_the_hub(monkeypatch):
    monkeypatch.delenv("CLOUDRUN_OFFLINE", raising=False)
    with pytest.raises(InvalidInput, match="owner/name"):
        sizing.load_config("../../etc/passwd", None)


def test_no_model_and_no_config():
    with pytest.raises(InvalidInput, match="no model"):
        sizing.load_config(None, None)


def test_malformed_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"hidden_size": 8,')
    with pytest.raises(InvalidInput, match="broken.json is not valid JSON"):
        sizing.load_config(None, path)


def test_json_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="expected a JSON object"):
        sizing.load_config(None, path)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read"):
        sizing.load_config(None, tmp_path / "absent.json")


def test_missing_key_names_the_key_and_the_file(tmp_path):
    cfg = {key: value for key, value in TINY_MHA.items() if key != "vocab_size"}
    path = write_config(tmp_path, cfg, "short.json")
    with pytest.raises(InvalidInput, match=r"short.json has no 'vocab_size'"):
        sizing.load_config(None, path)


def test_missing_mla_key(tmp_path):
    cfg = {key: value for key, value in TINY_MLA_MOE.items() if key != "kv_lora_rank"}
    with pytest.raises(InvalidInput, match="'kv_lora_rank'"):
        sizing.load_config(None, write_config(tmp_path, cfg))


def test_non_integer_value(tmp_path):
    with pytest.raises(InvalidInput, match="'hidden_size' must be a positive integer"):
        sizing.load_config(None, write_config(tmp_path, {**TINY_MHA, "hidden_size": "8"}))


def test_unsupported_architecture(tmp_path):
    cfg = {**TINY_MHA, "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}
    with pytest.raises(InvalidInput, match="unsupported architecture GPT2LMHeadModel; supported: Llama"):
        sizing.load_config(None, write_config(tmp_path, cfg))


@pytest.mark.parametrize("context", [0, -1])
def test_context_must_be_positive(context):
    with pytest.raises(InvalidInput, match="--context must be a whole number from 1 to"):
        sizing.need("deepseek-ai/deepseek-llm-7b-chat", context=context)


def test_concurrency_must_be_positive():
    with pytest.raises(InvalidInput, match="--concurrency must be a whole number from 1 to"):
        sizing.need("deepseek-ai/deepseek-llm-7b-chat", concurrency=0)


def test_unknown_precision_lists_the_choices():
    with pytest.raises(InvalidInput) as caught:
        sizing.need("deepseek-ai/deepseek-llm-7b-chat", precision="fp16")
    assert "bf16|fp8|int8|int4" in str(caught.value)


def test_context_over_the_model_maximum_says_the_maximum():
    with pytest.raises(InvalidInput, match="maximum of 4096 tokens") as caught:
        sizing.need("deepseek-ai/deepseek-llm-67b-chat", context=8192)
    assert "--context 4096" in str(caught.value)


def test_a_gated_config_is_fetched_with_hf_token_and_a_refusal_says_so(monkeypatch):
    import io
    import urllib.error
    import urllib.request

    sent: list[urllib.request.Request] = []

    def hub(request, timeout):  # the Hub at the wire: 401 without a token, the config with one
        sent.append(request)
        if not request.get_header("Authorization"):
            raise urllib.error.HTTPError(request.full_url, 401, "Unauthorized", {}, io.BytesIO(b""))
        return io.BytesIO(json.dumps({"model_type": "llama", "hidden_size": 64}).encode())

    monkeypatch.delenv("CLOUDRUN_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", hub)
    with pytest.raises(InvalidInput, match="gated or private") as caught:
        sizing.fetch_from_hub("meta-llama/Llama-3.1-8B")
    assert "set HF_TOKEN" in caught.value.hint
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    assert sizing.fetch_from_hub("meta-llama/Llama-3.1-8B")["model_type"] == "llama"
    assert sent[-1].get_header("Authorization") == "Bearer hf_secret"
