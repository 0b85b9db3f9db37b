"""Fold-in of a new user on tiny hand-made models."""

import numpy as np
import pytest
import torch

from nextwatch.models.ncf.modules import GMF, MF, MLP, NeuMF
from nextwatch.recommend.foldin import FoldInConfig, FoldInScorer


def _models():
    torch.manual_seed(0)
    return [GMF(5, 12, 4), MLP(5, 12, (8, 4, 2)), NeuMF(5, 12, 4, (8, 4, 2)), MF(5, 12, 4)]


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_scores_match_the_torch_module(model):
    """The numpy forward pass is the module's own maths: same logits for a trained user's vectors."""
    scorer = FoldInScorer(model)
    user = torch.tensor([3])
    theta = np.concatenate([v[0].detach().numpy().reshape(-1) for v in model.user_vectors(user)])
    items = torch.arange(12)
    expected = model(user.repeat(12), items).detach().numpy()
    np.testing.assert_allclose(scorer.score(theta), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scorer.score(theta, np.array([2, 7])), expected[[2, 7]], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_gradient_matches_finite_differences(model):
    # larger weights so ReLUs are active and the objective is not flat
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(20.0)
    scorer = FoldInScorer(model)
    rng = np.random.default_rng(1)
    theta = scorer.prior() + rng.normal(0, 0.5, size=scorer.prior().shape)
    items = np.array([0, 3, 5, 9])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    w = np.array([1.0, 1.0, 1.0, 0.5])
    g = scorer.gradient(theta, items, y, w, reg=0.1)
    num = np.zeros_like(theta)
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = 1e-6
        num[i] = (scorer.loss(theta + e, items, y, w, 0.1) - scorer.loss(theta - e, items, y, w, 0.1)) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-6)


def test_fold_in_ranks_the_liked_items_neighbours_higher():
    """Items 0-3 form one taste cluster, 4-7 another; liking 0 and 1 lifts 2 and 3 above 4-7."""
    torch.manual_seed(0)
    model = GMF(4, 8, 2)
    with torch.no_grad():
        model.item_embedding.weight.copy_(
            torch.tensor([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4) + 0.01 * torch.randn(8, 2)
        )
        model.user_embedding.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
        model.predict.weight.fill_(2.0)
        model.predict.bias.zero_()
    scorer = FoldInScorer(model)
    before = scorer.score(scorer.prior())
    theta = scorer.fold_in(np.array([0, 1]), np.array([4, 5]), config=FoldInConfig(steps=60))
    after = scorer.score(theta)
    assert after[[2, 3]].min() > after[[6, 7]].max()
    assert (after[[2, 3]] - before[[2, 3]]).min() > 0
    # with no likes nothing is learnt: the prior comes back
    np.testing.assert_array_equal(scorer.fold_in(np.array([], int), np.array([4])), scorer.prior())


def test_fold_in_leaves_model_weights_untouched():
    model = NeuMF(5, 12, 4, (8, 4, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    FoldInScorer(model).fold_in(np.array([1, 2]), np.array([3]))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_only_the_ncf_modules_can_be_folded_into() -> None:
    from nextwatch.models.autorec import AutoRecNet

    assert all(FoldInScorer.supports(m) for m in _models())
    other = AutoRecNet(5, 12, 3)
    assert not FoldInScorer.supports(other)
    with pytest.raises(TypeError, match="AutoRecNet"):
        FoldInScorer(other)
