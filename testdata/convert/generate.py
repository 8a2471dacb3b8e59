"""Generate the PyTorch models mlops convert's tests export.

Run with Debian's torch:  cd testdata/convert && /usr/bin/python3 generate.py
  mlp.ts.pt     TorchScript MLP (torch.jit.script), input x [N,16]
  cnn.state.pt  state dict of convmodels.CNN (Conv+BatchNorm), input x [N,1,8,8]
  seq.pt        whole pickled convmodels.SeqModel, input ids int64 [N,T]
"""
import torch

from convmodels import CNN, MLP, SeqModel

torch.manual_seed(0)

mlp = MLP().eval()
torch.jit.save(torch.jit.script(mlp), "mlp.ts.pt")

cnn = CNN()
# Non-trivial running statistics so that BatchNorm really changes values.
with torch.no_grad():
    for m in cnn.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
torch.save(cnn.eval().state_dict(), "cnn.state.pt")

torch.save(SeqModel().eval(), "seq.pt")
