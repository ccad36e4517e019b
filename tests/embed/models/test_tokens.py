"""Token states as the encoder takes them: the layer, the tokens kept, int8 codes."""

from __future__ import annotations

import numpy as np

from embed.models.encoder import Encoder
from embed.models.tokens import QuantisedTokens, content_tokens, token_layer


def _unit(rows: list[list[float]]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_token_layer_is_two_thirds_up_the_stack() -> None:
    assert token_layer(12) == 8
    assert token_layer(24) == 16
    assert token_layer(1) == 1


def test_content_tokens_leave_out_specials_padding_and_prompt() -> None:
    states = np.arange(2 * 5 * 2, dtype=np.float32).reshape(2, 5, 2) + 1
    keep = np.array([[False, True, True, True, False], [False, True, True, False, False]])
    first, second = content_tokens(states, keep, prompt_tokens=1)
    assert first.shape == (2, 2) and second.shape == (1, 2)
    assert np.allclose(first[0], states[0, 2] / np.linalg.norm(states[0, 2]))
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)


def test_quantised_tokens_keep_their_cosines_in_a_quarter_of_the_bytes() -> None:
    rng = np.random.default_rng(0)
    tokens = _unit(rng.normal(size=(50, 384)).tolist())
    tokens[0] = 0  # a zero row has scale 0 and decodes to zeros
    quantised = QuantisedTokens.quantise(tokens)
    assert quantised.codes.dtype == np.int8 and quantised.codes.nbytes * 4 == tokens.nbytes
    assert np.array_equal(np.abs(quantised.codes[1:]).max(axis=1), np.full(49, 127))
    decoded = quantised.decode()
    assert not decoded[0].any()
    assert np.allclose(np.linalg.norm(decoded[1:], axis=1), 1.0, atol=1e-5)
    assert np.sum(decoded[1:] * tokens[1:], axis=1).min() > 0.999
    assert len(QuantisedTokens.quantise(np.zeros((0, 384), np.float32))) == 0


def test_passage_tokens_come_from_the_pass_that_makes_the_vectors(encoder: Encoder) -> None:
    texts = ["В Бишкеке проходит 54-ое заседание Совета.", "The 44th meeting of the RATS SCO."]
    vectors, states = encoder.encode_passages_with_tokens(texts)
    assert np.allclose(vectors, encoder.encode_passages(texts), atol=1e-5)
    for text, tokens in zip(texts, states, strict=True):
        words = encoder._tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokens.codes.shape == (len(words), vectors.shape[1])
        assert np.allclose(np.linalg.norm(tokens.decode(), axis=1), 1.0, atol=1e-5)
