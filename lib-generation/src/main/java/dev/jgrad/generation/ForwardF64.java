package dev.jgrad.generation;

import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.tensor.Tensor;
import java.util.Arrays;

/**
 * {@link KvCacheDecoder}'s forward pass for F64 models: the same rows-through-layers structure as
 * {@link ForwardF32}, in plain double loops (the exact path), with the logits converted to float at the very end.
 * Always single-threaded: F64 models are for checking, not for speed.
 */
final class ForwardF64 implements KvCacheDecoder.Engine {
    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);
    private static final double GELU_KAPPA = 0.044715;

    private final int vocab;
    private final int context;
    private final int dModel;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int kvWidth;
    private final int qkvWidth;
    private final int hidden;
    private final boolean layerNorm;
    private final boolean gelu;
    private final double eps;
    private final double attentionScale;
    private final double[] tokenEmbedding;
    private final double[] positionEmbedding;   // null with RoPE
    private final double[] ropeCos;             // [context, headDim / 2], null with learned positions
    private final double[] ropeSin;
    private final Layer[] layers;
    private final Norm finalNorm;
    private final Linear head;
    private final ThreadLocal<Workspace> batchWorkspace = new ThreadLocal<>();

    private record Linear(double[] w, double[] b, int out, int in) {}

    private record Norm(double[] w, double[] b) {}

    private record Layer(Norm norm1, Linear[] qkv, Linear out, Norm norm2, Linear gateOrFc, Linear up, Linear down) {}

    ForwardF64(GptConfig c, ModelWeights weights) {
        vocab = c.vocabSize();
        context = c.contextLength();
        dModel = c.dModel();
        heads = c.heads();
        kvHeads = c.kvHeads();
        headDim = c.headDim();
        kvWidth = kvHeads * headDim;
        qkvWidth = dModel + 2 * kvWidth;
        hidden = c.mlpHidden();
        layerNorm = c.norm() == GptConfig.Norm.LAYER_NORM;
        gelu = c.activation() == GptConfig.Activation.GELU;
        eps = c.eps();
        attentionScale = 1 / Math.sqrt(headDim);
        tokenEmbedding = array(weights.tokenEmbedding());
        positionEmbedding = array(weights.positionEmbedding());
        if (c.positions() == GptConfig.Positions.ROPE) {
            double[][] table = RopeTable.of(context, headDim, c.ropeTheta());
            ropeCos = table[0];
            ropeSin = table[1];
        } else {
            ropeCos = ropeSin = null;
        }
        layers = weights.layers().stream().map(l -> new Layer(norm(l.norm1()),
                l.qkv().stream().map(ForwardF64::linear).toArray(Linear[]::new), linear(l.attentionOut()),
                norm(l.norm2()), linear(l.gateOrFc()), linear(l.up()), linear(l.down()))).toArray(Layer[]::new);
        finalNorm = norm(weights.finalNorm());
        head = new Linear(array(weights.head()), null, vocab, dModel);
    }

    /** The tensor's storage array itself when it is a plain contiguous array (always, for Gpt's parameters). */
    private static double[] array(Tensor t) {
        if (t == null) {
            return null;
        }
        if (t.isContiguous() && t.offset() == 0 && t.f64Data().length == t.numel()) {
            return t.f64Data();
        }
        return t.toDoubleArray();
    }

    private static Linear linear(ModelWeights.Linear l) {
        return l == null ? null : new Linear(array(l.weight()), array(l.bias()), l.out(), l.in());
    }

    private static Norm norm(ModelWeights.Norm n) {
        return new Norm(array(n.weight()), array(n.bias()));
    }

    // ------------------------------------------------------------------------------------------ states

    /** Keys and values per layer, [kvHeads, context, headDim] each, plus scratch for one row. */
    final class State extends KvCacheDecoder.KvState {
        final double[][] keys = new double[layers.length][kvHeads * context * headDim];
        final double[][] values = new double[layers.length][kvHeads * context * headDim];
        final Workspace scratch = new Workspace(1);

        State(KvCacheDecoder owner) {
            super(owner);
        }

        @Override
        void copyCaches(KvCacheDecoder.KvState other, int length) {
            State o = (State) other;
            for (int l = 0; l < layers.length; l++) {
                for (int g = 0; g < kvHeads; g++) {
                    int at = g * context * headDim;
                    System.arraycopy(o.keys[l], at, keys[l], at, length * headDim);
                    System.arraycopy(o.values[l], at, values[l], at, length * headDim);
                }
            }
        }
    }

    /** Activations for up to {@code capacity} rows, and which state, position and token each row is. */
    private final class Workspace {
        final int capacity;
        final State[] states;
        final int[] positions;
        final int[] tokens;
        final double[] x;
        final double[] normed;
        final double[] qkv;
        final double[] attended;
        final double[] projected;
        final double[] hidden;
        final double[] up;
        final double[] scores;
        final double[] logits;

        Workspace(int capacity) {
            this.capacity = capacity;
            states = new State[capacity];
            positions = new int[capacity];
            tokens = new int[capacity];
            x = new double[capacity * dModel];
            normed = new double[capacity * dModel];
            qkv = new double[capacity * qkvWidth];
            attended = new double[capacity * dModel];
            projected = new double[capacity * dModel];
            hidden = new double[capacity * ForwardF64.this.hidden];
            up = gelu ? null : new double[capacity * ForwardF64.this.hidden];
            scores = new double[context];
            logits = new double[capacity * vocab];
        }
    }

    @Override
    public KvCacheDecoder.KvState newState(KvCacheDecoder owner) {
        return new State(owner);
    }

    // ------------------------------------------------------------------------------------------ entry points

    @Override
    public void prefill(KvCacheDecoder.KvState state, int[] tokens, int from, int count, float[] logits) {
        State s = (State) state;
        Workspace ws = count == 1 ? s.scratch : new Workspace(count);
        for (int r = 0; r < count; r++) {
            ws.states[r] = s;
            ws.positions[r] = s.length + r;
            ws.tokens[r] = tokens[from + r];
        }
        forward(ws, count);
        logitsOfRow(ws, count - 1, logits);
        ws.states[0] = null;
    }

    @Override
    public void step(KvCacheDecoder.KvState state, int token, float[] logits) {
        State s = (State) state;
        Workspace ws = s.scratch;
        ws.states[0] = s;
        ws.positions[0] = s.length;
        ws.tokens[0] = token;
        forward(ws, 1);
        logitsOfRow(ws, 0, logits);
        ws.states[0] = null;
    }

    @Override
    public void step(Decoder.State[] states, int[] tokens, float[][] logits) {
        int rows = states.length;
        Workspace ws = batchWorkspace.get();
        if (ws == null || ws.capacity < rows) {
            ws = new Workspace(rows);
            batchWorkspace.set(ws);
        }
        for (int r = 0; r < rows; r++) {
            ws.states[r] = (State) states[r];
            ws.positions[r] = states[r].length();
            ws.tokens[r] = tokens[r];
        }
        forward(ws, rows);
        for (int r = 0; r < rows; r++) {
            logitsOfRow(ws, r, logits[r]);
        }
        Arrays.fill(ws.states, 0, rows, null);   // the per-thread scratch must not keep states alive
    }

    /** Final norm and head for row r, computed in double, rounded to float only when stored into {@code logits}. */
    private void logitsOfRow(Workspace ws, int r, float[] logits) {
        normRows(ws.x, ws.normed, r, r + 1, finalNorm);
        matmul(ws.normed, r * dModel, 1, head, ws.logits, 0, vocab);
        for (int v = 0; v < vocab; v++) {
            logits[v] = (float) ws.logits[v];
        }
    }

    // ------------------------------------------------------------------------------------------ the model

    private void forward(Workspace ws, int rows) {
        for (int r = 0; r < rows; r++) {
            System.arraycopy(tokenEmbedding, ws.tokens[r] * dModel, ws.x, r * dModel, dModel);
            if (positionEmbedding != null) {
                for (int i = 0; i < dModel; i++) {
                    ws.x[r * dModel + i] += positionEmbedding[ws.positions[r] * dModel + i];
                }
            }
        }
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            normRows(ws.x, ws.normed, 0, rows, layer.norm1);
            int column = 0;
            for (Linear projection : layer.qkv) {
                matmul(ws.normed, 0, rows, projection, ws.qkv, column, qkvWidth);
                column += projection.out;
            }
            for (int r = 0; r < rows; r++) {
                storeKeyValue(ws, r, l);
            }
            for (int r = 0; r < rows; r++) {
                attend(ws, r, l);
            }
            matmul(ws.attended, 0, rows, layer.out, ws.projected, 0, dModel);
            for (int i = 0; i < rows * dModel; i++) {
                ws.x[i] += ws.projected[i];
            }

            normRows(ws.x, ws.normed, 0, rows, layer.norm2);
            matmul(ws.normed, 0, rows, layer.gateOrFc, ws.hidden, 0, hidden);
            if (gelu) {
                for (int i = 0; i < rows * hidden; i++) {
                    double v = ws.hidden[i];
                    ws.hidden[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_KAPPA * v * v * v)));
                }
            } else {
                matmul(ws.normed, 0, rows, layer.up, ws.up, 0, hidden);
                for (int i = 0; i < rows * hidden; i++) {
                    double v = ws.hidden[i];
                    ws.hidden[i] = v / (1 + Math.exp(-v)) * ws.up[i];
                }
            }
            matmul(ws.hidden, 0, rows, layer.down, ws.projected, 0, dModel);
            for (int i = 0; i < rows * dModel; i++) {
                ws.x[i] += ws.projected[i];
            }
        }
    }

    private void storeKeyValue(Workspace ws, int r, int layer) {
        int row = r * qkvWidth;
        int pos = ws.positions[r];
        if (ropeCos != null) {
            for (int h = 0; h < heads; h++) {
                rotate(ws.qkv, row + h * headDim, pos);
            }
            for (int g = 0; g < kvHeads; g++) {
                rotate(ws.qkv, row + dModel + g * headDim, pos);
            }
        }
        State s = ws.states[r];
        for (int g = 0; g < kvHeads; g++) {
            int at = (g * context + pos) * headDim;
            System.arraycopy(ws.qkv, row + dModel + g * headDim, s.keys[layer], at, headDim);
            System.arraycopy(ws.qkv, row + dModel + kvWidth + g * headDim, s.values[layer], at, headDim);
        }
    }

    private void attend(Workspace ws, int r, int layer) {
        State s = ws.states[r];
        double[] keys = s.keys[layer];
        double[] values = s.values[layer];
        double[] scores = ws.scores;
        int visible = ws.positions[r] + 1;
        int group = heads / kvHeads;
        for (int h = 0; h < heads; h++) {
            int q = r * qkvWidth + h * headDim;
            int base = (h / group) * context * headDim;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < visible; j++) {
                double score = 0;
                for (int c = 0; c < headDim; c++) {
                    score += ws.qkv[q + c] * keys[base + j * headDim + c];
                }
                scores[j] = score * attentionScale;
                max = Math.max(max, scores[j]);
            }
            double sum = 0;
            for (int j = 0; j < visible; j++) {
                scores[j] = Math.exp(scores[j] - max);
                sum += scores[j];
            }
            int out = r * dModel + h * headDim;
            Arrays.fill(ws.attended, out, out + headDim, 0);
            for (int j = 0; j < visible; j++) {
                double p = scores[j] / sum;
                for (int c = 0; c < headDim; c++) {
                    ws.attended[out + c] += p * values[base + j * headDim + c];
                }
            }
        }
    }

    /** y[r, o] = x[r, :] · w[o, :] + b[o], written at y[yOff + r * ldy + o]. */
    private static void matmul(double[] x, int xOff, int rows, Linear p, double[] y, int yOff, int ldy) {
        int in = p.in;
        for (int o = 0; o < p.out; o++) {
            for (int r = 0; r < rows; r++) {
                double sum = 0;
                for (int i = 0; i < in; i++) {
                    sum += p.w[o * in + i] * x[xOff + r * in + i];
                }
                y[yOff + r * ldy + o] = p.b == null ? sum : sum + p.b[o];
            }
        }
    }

    private void rotate(double[] x, int off, int pos) {
        int half = headDim / 2;
        int table = pos * half;
        for (int i = 0; i < half; i++) {
            double first = x[off + i];
            double second = x[off + half + i];
            double cos = ropeCos[table + i];
            double sin = ropeSin[table + i];
            x[off + i] = first * cos - second * sin;
            x[off + half + i] = second * cos + first * sin;
        }
    }

    private void normRows(double[] x, double[] y, int from, int to, Norm norm) {
        for (int r = from; r < to; r++) {
            int off = r * dModel;
            double mean = 0;
            if (layerNorm) {
                for (int i = 0; i < dModel; i++) {
                    mean += x[off + i];
                }
                mean /= dModel;
            }
            double squares = 0;
            for (int i = 0; i < dModel; i++) {
                double deviation = x[off + i] - mean;
                squares += deviation * deviation;
            }
            double rstd = 1.0 / Math.sqrt(squares / dModel + eps);   // RMSNorm: mean 0, the root mean square
            for (int i = 0; i < dModel; i++) {
                double normed = (x[off + i] - mean) * rstd * norm.w[i];
                y[off + i] = norm.b == null ? normed : normed + norm.b[i];
            }
        }
    }
}
