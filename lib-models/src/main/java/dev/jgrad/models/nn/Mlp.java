package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Rng;

/**
 * The transformer's position-wise feed-forward layer, in one of two forms named as in the reference models:
 * GPT-2's {@code c_proj(gelu_tanh(c_fc(x)))} and LLaMA's SwiGLU {@code down_proj(silu(gate_proj(x)) * up_proj(x))}.
 * The output is followed by dropout.
 */
public final class Mlp extends Module implements Layer {
    private final Linear gate;   // c_fc in the GELU form
    private final Linear up;     // null in the GELU form
    private final Linear down;   // c_proj in the GELU form
    private final Dropout dropout;

    private Mlp(int dModel, int hidden, boolean swiGlu, boolean bias, double dropout, Rng dropoutRng, DType dtype,
                Rng rng) {
        if (swiGlu) {
            gate = child("gate_proj", new Linear(dModel, hidden, bias, dtype, rng));
            up = child("up_proj", new Linear(dModel, hidden, bias, dtype, rng));
            down = child("down_proj", new Linear(hidden, dModel, bias, dtype, rng));
        } else {
            gate = child("c_fc", new Linear(dModel, hidden, bias, dtype, rng));
            up = null;
            down = child("c_proj", new Linear(hidden, dModel, bias, dtype, rng));
        }
        this.dropout = child("dropout", new Dropout(dropout, dropoutRng));
    }

    /** GPT-2: {@code c_fc} [hidden, D], tanh-approximated GELU, {@code c_proj} [D, hidden]. */
    public static Mlp gelu(int dModel, int hidden, boolean bias, double dropout, Rng dropoutRng, DType dtype, Rng rng) {
        return new Mlp(dModel, hidden, false, bias, dropout, dropoutRng, dtype, rng);
    }

    /** LLaMA: {@code gate_proj} and {@code up_proj} [hidden, D], {@code down_proj} [D, hidden]. */
    public static Mlp swiGlu(int dModel, int hidden, boolean bias, double dropout, Rng dropoutRng, DType dtype, Rng rng) {
        return new Mlp(dModel, hidden, true, bias, dropout, dropoutRng, dtype, rng);
    }

    @Override
    public Variable forward(Variable x) {
        if (up == null) {   // one op: the GELU and its derivative come out of the products (see Variable.geluMlp)
            return dropout.forward(Variable.geluMlp(x, gate.weight(), gate.bias(), down.weight(), down.bias()));
        }
        return dropout.forward(down.forward(gate.forward(x).silu().mul(up.forward(x))));
    }

    /** The projection that writes into the residual stream (GPT-2 scales its init by 1/sqrt(2·layers)). */
    public Linear outputProjection() {
        return down;
    }
}
