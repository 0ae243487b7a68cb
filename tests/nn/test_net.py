"""CFNet: shapes, quantisation folding, losses, export."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from cfsnn import golden
from cfsnn.nn import CFNet, QuantLinear, pnb_loss, pnb_terms, task_loss


def test_static_and_dynamic_inputs_agree():
    torch.manual_seed(0)
    net = CFNet(10, [7], 3, T=4)
    x = torch.randint(0, 16, (5, 10))
    a = net(x)
    b = net(x[:, None, :].expand(5, 4, 10))
    torch.testing.assert_close(a.logits, b.logits)
    assert a.readout.shape == (4, 5, 3) and a.spikes[0].shape == (4, 5, 7)


def test_bad_input_shape():
    net = CFNet(10, [7], 3, T=4)
    with pytest.raises(ValueError, match="codes must be shaped"):
        net(torch.zeros(5, 3, 10))


def test_quantised_weights_fold_exactly():
    torch.manual_seed(1)
    q = QuantLinear(6, 4, w_bits=8, in_scale=1 / 15)
    w, b, d = q.integer()
    we, be = q.effective()
    # the fake-quantised float weights are exactly integer * sigma
    torch.testing.assert_close(we.detach(), w.float() * (d / q.in_scale)[:, None], rtol=0, atol=1e-7)
    torch.testing.assert_close(be.detach(), b.float() * d, rtol=0, atol=1e-7)
    assert w.abs().max() <= 127


def test_export_thresholds_and_float_golden_agreement():
    torch.manual_seed(2)
    net = CFNet(20, [16], 4, T=4, K=2)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() == 2:
                p.mul_(4)
    model = net.export()
    n = net.neurons[0]
    d = net.fc[0].unit()
    assert_array_equal(model.layers[0].theta, torch.round(n.theta / d).numpy().astype(np.int64))
    x = torch.randint(0, 16, (200, 20), generator=torch.Generator().manual_seed(0))
    fl = net(x).logits.argmax(1).numpy()
    g = golden.run(model, x.numpy()).predictions
    assert (fl == g).mean() > 0.9     # float vs integer: a tolerance belongs here


def test_pnb_terms_match_definition():
    torch.manual_seed(3)
    net = CFNet(8, [5, 6], 3, T=3, theta=0.8)
    x = torch.randint(0, 16, (4, 8))
    out = net(x)
    P, N = pnb_terms(out)
    # recompute from H with the reference definition
    cur = x.float() / 15
    I = net.fc[0](cur).unsqueeze(0).expand(3, 4, 5)
    from cfsnn.nn import cf_multistep
    S, _, H = cf_multistep(I, net.neurons[0].alpha, theta=0.8, K=2, lam=0.5)
    h = H / 0.8
    torch.testing.assert_close(P[0], torch.relu(h).mean())
    torch.testing.assert_close(N[0], torch.relu(-h).mean())
    loss = pnb_loss(out)
    torch.testing.assert_close(loss, ((P - N) ** 2).mean())


def test_pnb_gradient_reaches_weights():
    torch.manual_seed(4)
    net = CFNet(8, [5], 3, T=3)
    pnb_loss(net(torch.randint(0, 16, (4, 8)))).backward()
    assert net.fc[0].weight.grad.abs().sum() > 0


def test_task_losses():
    torch.manual_seed(5)
    net = CFNet(8, [5], 3, T=3)
    out = net(torch.randint(0, 16, (4, 8)))
    y = torch.tensor([0, 1, 2, 0])
    l1 = task_loss(out, y)
    torch.testing.assert_close(l1, torch.nn.functional.cross_entropy(out.logits / 3, y))
    l2 = task_loss(out, y, tet=True)
    want = sum(torch.nn.functional.cross_entropy(out.readout[t] / (t + 1), y) for t in range(3)) / 3
    torch.testing.assert_close(l2, want)


def test_readout_leak():
    torch.manual_seed(6)
    net = CFNet(8, [5], 3, T=3, readout_leak_shift=1)
    out = net(torch.randint(0, 16, (2, 8)))
    I = net.readout(out.spikes[-1])
    u = torch.zeros(2, 3)
    for t in range(3):
        u = 0.5 * u + I[t]
    torch.testing.assert_close(out.logits, u)


@pytest.mark.parametrize("kw", [dict(hidden=[0]), dict(n_classes=1), dict(readout_leak_shift=16)])
def test_bad_net_arguments(kw):
    args = dict(n_in=4, hidden=[3], n_classes=2)
    args.update(kw)
    with pytest.raises(ValueError):
        CFNet(args.pop("n_in"), args.pop("hidden"), args.pop("n_classes"), **args)
