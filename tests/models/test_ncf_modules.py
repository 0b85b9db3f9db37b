"""GMF, MLP, NeuMF and MF forward passes against values computed by hand on tiny set weights."""

from __future__ import annotations

import pytest
import torch

from nextwatch.models.ncf.modules import GMF, MF, MLP, NeuMF, TrainStep

USERS = [[1.0, 2.0], [0.5, -1.0]]
ITEMS = [[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]
# MLP tower 4 -> 2: h1 = x0 + x3, h2 = x1 - x2 - 1 (x = [p; q])
TOWER_W = [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, -1.0, 0.0]]
TOWER_B = [0.0, -1.0]


def t(x: list) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float32)


def set_gmf(m: GMF, with_predict: bool = True) -> None:
    with torch.no_grad():
        m.user_embedding.weight.copy_(t(USERS))
        m.item_embedding.weight.copy_(t(ITEMS))
        if with_predict:
            m.predict.weight.copy_(t([[0.5, -1.0]]))
            m.predict.bias.fill_(0.1)


def set_mlp(m: MLP, with_predict: bool = True) -> None:
    with torch.no_grad():
        m.user_embedding.weight.copy_(t(USERS))
        m.item_embedding.weight.copy_(t(ITEMS))
        m.tower[0].weight.copy_(t(TOWER_W))
        m.tower[0].bias.copy_(t(TOWER_B))
        if with_predict:
            m.predict.weight.copy_(t([[1.0, 2.0]]))
            m.predict.bias.fill_(0.0)


def pairs(*ps: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor([p[0] for p in ps]), torch.tensor([p[1] for p in ps])


def test_gmf_forward_matches_hand_computation() -> None:
    m = GMF(2, 3, 2)
    set_gmf(m)
    u, i = pairs((0, 2), (1, 0))
    # (0,2): 0.5*(1*2) - 1*(2*2) + 0.1 = -2.9 ; (1,0): 0.5*(0.5*1) - 1*(-1*0) + 0.1 = 0.35
    assert m(u, i).tolist() == pytest.approx([-2.9, 0.35])


def test_mlp_forward_matches_hand_computation() -> None:
    m = MLP(2, 3, (4, 2))
    set_mlp(m)
    u, i = pairs((0, 0), (0, 2), (1, 1), (0, 1))
    # (0,0): x=[1,2,1,0] h=[1, relu(2-1-1)=0] -> 1 ; (0,2): x=[1,2,2,2] h=[3, relu(-1)=0] -> 3
    # (1,1): x=[.5,-1,0,1] h=[1.5, 0] -> 1.5 ; (0,1): x=[1,2,0,1] h=[2, 1] -> 2 + 2*1 = 4
    assert m(u, i).tolist() == pytest.approx([1.0, 3.0, 1.5, 4.0])


def test_neumf_forward_matches_hand_computation() -> None:
    m = NeuMF(2, 3, 2, (4, 2))
    set_gmf(m.gmf, with_predict=False)
    set_mlp(m.mlp, with_predict=False)
    with torch.no_grad():
        m.predict.weight.copy_(t([[0.5, -1.0, 1.0, 2.0]]))
        m.predict.bias.fill_(0.1)
    u, i = pairs((0, 1), (1, 0))
    # (0,1): gmf [0, 2], mlp [2, 1] -> 0 - 2 + 2 + 2 + 0.1 = 2.1
    # (1,0): gmf [0.5, 0], mlp [0.5, relu(-1 - 1 - 1)=0] -> 0.25 + 0.5 + 0.1 = 0.85
    assert m(u, i).tolist() == pytest.approx([2.1, 0.85])


def test_mf_forward_matches_hand_computation() -> None:
    m = MF(2, 3, 2)
    with torch.no_grad():
        m.user_embedding.weight.copy_(t(USERS))
        m.item_embedding.weight.copy_(t(ITEMS))
        m.user_bias.weight.copy_(t([[0.1], [-0.2]]))
        m.item_bias.weight.copy_(t([[0.0], [0.5], [1.0]]))
        m.bias.fill_(3.0)
    u, i = pairs((0, 2), (1, 1))
    # (0,2): 2 + 4 + 0.1 + 1 + 3 = 10.1 ; (1,1): -1 - 0.2 + 0.5 + 3 = 2.3
    assert m(u, i).tolist() == pytest.approx([10.1, 2.3])


@pytest.mark.parametrize(
    "make",
    [
        lambda: GMF(5, 7, 3),
        lambda: MLP(5, 7, (6, 4, 2)),
        lambda: NeuMF(5, 7, 3, (6, 4, 2)),
        lambda: MF(5, 7, 3),
    ],
    ids=["gmf", "mlp", "neumf", "mf"],
)
def test_score_matrix_equals_pairwise_forward(make) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    m = make()
    with torch.no_grad():  # make the ReLUs and embeddings matter: default N(0, .01) is nearly zero
        for p in m.parameters():
            p.normal_(0, 1)
    users, items = torch.arange(5), torch.tensor([6, 0, 3])
    matrix = m.score_matrix(m.user_vectors(users), items)
    uu, ii = torch.meshgrid(users, items, indexing="ij")
    assert matrix.shape == (5, 3)
    torch.testing.assert_close(matrix, m(uu.reshape(-1), ii.reshape(-1)).reshape(5, 3), rtol=1e-5, atol=1e-5)


def test_neumf_from_pretrained_is_the_alpha_blend_of_gmf_and_mlp() -> None:
    gmf, mlp = GMF(2, 3, 2), MLP(2, 3, (4, 2))
    set_gmf(gmf)
    set_mlp(mlp)
    neu = NeuMF(2, 3, 2, (4, 2))
    neu.load_pretrained(gmf, mlp, alpha=0.5)
    u, i = pairs((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2))
    with torch.no_grad():
        expected = 0.5 * gmf(u, i) + 0.5 * mlp(u, i)
        torch.testing.assert_close(neu(u, i), expected)
    # alpha weights the branches: alpha=1 is GMF alone (its prediction layer, the MLP half zeroed)
    neu.load_pretrained(gmf, mlp, alpha=1.0)
    with torch.no_grad():
        torch.testing.assert_close(neu(u, i), gmf(u, i))


def test_train_step_penalty_is_mean_squared_norm_of_touched_rows() -> None:
    m = GMF(2, 3, 2)
    set_gmf(m)
    logits, penalty = TrainStep(m)(*pairs((0, 1), (1, 2)))
    # (||(1,2)||^2 + ||(0,1)||^2 + ||(.5,-1)||^2 + ||(2,2)||^2) / 2 = (5 + 1 + 1.25 + 8) / 2
    assert float(penalty.detach()) == pytest.approx(7.625)
    assert logits.detach().tolist() == pytest.approx([0.5 * 0 - 1 * 2 + 0.1, 0.5 * 1 - 1 * -2 + 0.1])
