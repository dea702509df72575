"""Write a tiny Llama-architecture GGUF with random weights, for a real llama.cpp server in tests.

2 layers, hidden 64, 4 heads (2 KV heads), a SentencePiece ("llama") vocabulary
of ~400 tokens with byte fallback: a few hundred KB, loads in milliseconds.

The weights are random, but the output is steered so the tests are exact:
dimension 0 of every token embedding is a constant, the attention and FFN
output projections never write to it, so after the final RMSNorm that
dimension is always positive; the output matrix's column 0 is then strongly
positive for ordinary word pieces and strongly negative for control, byte
and space-only tokens. Hence greedy decoding never emits EOS (every request
yields exactly max_tokens) and every token decodes to visible ASCII text
(one streamed chunk per token).
"""

from __future__ import annotations

import string
from pathlib import Path

import gguf
import numpy as np

N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
N_LAYER = 2
N_FF = 128
N_CTX_TRAIN = 2048

_WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at which "
          "but have an they you were her she there one all we their has been if more when will would who "
          "so no time can than them some what out other into only its new two may first then do any like "
          "my now over such our man me even most made after also did many off before must well back "
          "through years much where your way down should because long each just those people how too "
          "little state good very make world still own see men work here between both life being under "
          "never day same another know while last might us great old year came since against go come "
          "right used take three list words above continue request").split()


def vocabulary() -> tuple[list[str], list[float], list[int], list[bool]]:
    """tokens, scores, token types, and whether each token may be generated."""
    tt = gguf.TokenType
    tokens = ["<unk>", "<s>", "</s>"]
    types = [tt.UNKNOWN, tt.CONTROL, tt.CONTROL]
    scores = [0.0, 0.0, 0.0]
    allowed = [False, False, False]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        types.append(tt.BYTE)
        scores.append(0.0)
        allowed.append(False)
    pieces: list[str] = ["▁"]
    pieces += [f"▁{w}" for w in dict.fromkeys(_WORDS)]
    pieces += list(string.ascii_letters + string.digits + string.punctuation)
    pieces += [f"▁{c}" for c in string.ascii_lowercase]
    for rank, piece in enumerate(dict.fromkeys(pieces)):
        tokens.append(piece)
        types.append(tt.NORMAL)
        # SentencePiece prefers higher scores; longer pieces win over characters.
        scores.append(float(len(piece)) - rank * 1e-3)
        allowed.append(piece.strip("▁") != "")
    return tokens, scores, [int(t) for t in types], allowed


def write_tiny_llama(path: Path, *, seed: int = 0) -> Path:
    """Write the model to `path` and return it."""
    rng = np.random.default_rng(seed)
    tokens, scores, types, allowed = vocabulary()
    n_vocab = len(tokens)
    head_dim = N_EMBD // N_HEAD

    def rand(*shape: int, std: float = 0.1) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("probe-test-tiny-llama")
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    embd = rand(n_vocab, N_EMBD, std=1.0)
    embd[:, 0] = 8.0  # the constant "steering" dimension (see module doc)
    writer.add_tensor("token_embd.weight", embd)
    for i in range(N_LAYER):
        attn_out = rand(N_EMBD, N_EMBD)
        attn_out[0, :] = 0.0  # never write to dimension 0
        ffn_down = rand(N_EMBD, N_FF)
        ffn_down[0, :] = 0.0
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", rand(N_EMBD, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_k.weight", rand(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_v.weight", rand(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_output.weight", attn_out)
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", ffn_down)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    output = rand(n_vocab, N_EMBD)
    output[:, 0] = np.where(np.array(allowed), 10.0, -10.0)
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
