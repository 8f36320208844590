package dev.jgrad.generation;

import dev.jgrad.models.gpt.GptConfig;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.kernel.ElementwiseF32;
import dev.jgrad.tensor.kernel.Lanes;
import dev.jgrad.tensor.kernel.VectorMath;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link KvCacheDecoder}'s forward pass for F32 models, over the model's own weight arrays.
 *
 * <p>Everything works on rows: a prefill's T prompt positions, a step's one token, or a batched step's B
 * sequences are all R rows of activations [R, width] going through the layers together, so each weight matrix
 * is read once per pass for all R rows. Row r belongs to state {@code states[r]} at position {@code positions[r]};
 * its key and value are written into that state's cache before any row attends, so the rows of a prefill see
 * each other causally (row r attends to positions [0, positions[r]]).
 *
 * <p>Determinism: each output element of a product is one dot product computed the same way (one vector
 * accumulator over the input, a fixed-order lane sum, then the scalar tail) whatever rows or threads are beside it, so
 * a batched step equals single steps bit for bit and any thread count gives the same bits.
 */
final class ForwardF32 implements KvCacheDecoder.Engine {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Output rows computed together in {@link #dot4}: one load of x feeds four independent accumulators. */
    private static final int TILE = 4;
    /**
     * Products with fewer multiply-adds than this run on the calling thread. Handing work to the pool and waiting
     * for it costs tens of microseconds, about what GPT-small's largest product at batch 1 (512 x 128) takes on one
     * core: split at that size, batch-1 generation ran at 1.8k instead of 3.1k tok/s (wall clock, 2 threads, a
     * loaded machine); at batch 8 the difference was inside the noise. So GPT-small always runs single-threaded,
     * while products of a million multiply-adds and more (d 512's MLP at batch 1, say) split.
     */
    static final long PARALLEL_MIN_MACS = 1L << 20;

    /**
     * Lane i reads lane i XOR (L/2), XOR (L/4), ... XOR 1: the butterfly {@link #dot4} sums its lanes with, written
     * out in the kernel rather than called (a method taking a vector must be inlined or C2 boxes the vector at the
     * call; see {@link Lanes}). Lane 0 of the butterfly adds the same pairs as {@link Lanes}' rotations, so the
     * bits are {@link Lanes#dot}'s. Each shuffle is its own constant so C2 sees it.
     */
    private static final VectorShuffle<Float> SWAP_HALVES = butterfly(F.length() / 2);
    private static final VectorShuffle<Float> SWAP_QUARTERS = butterfly(Math.max(1, F.length() / 4));
    private static final VectorShuffle<Float> SWAP_EIGHTHS = butterfly(Math.max(1, F.length() / 8));
    private static final VectorShuffle<Float> SWAP_SIXTEENTHS = butterfly(Math.max(1, F.length() / 16));

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
    private final float eps;
    private final float attentionScale;
    private final float[] tokenEmbedding;
    private final float[] positionEmbedding;   // null with RoPE
    private final float[] ropeCos;             // [context, headDim / 2], null with learned positions
    private final float[] ropeSin;
    private final Layer[] layers;
    private final Norm finalNorm;
    private final Linear head;
    private final ThreadLocal<Workspace> batchWorkspace = new ThreadLocal<>();

    private record Linear(float[] w, float[] b, int out, int in) {}

    private record Norm(float[] w, float[] b) {}

    private record Layer(Norm norm1, Linear[] qkv, Linear out, Norm norm2, Linear gateOrFc, Linear up, Linear down) {}

    ForwardF32(GptConfig c, ModelWeights weights) {
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
        eps = (float) c.eps();
        attentionScale = (float) (1 / Math.sqrt(headDim));
        tokenEmbedding = array(weights.tokenEmbedding());
        positionEmbedding = array(weights.positionEmbedding());
        if (c.positions() == GptConfig.Positions.ROPE) {
            double[][] table = RopeTable.of(context, headDim, c.ropeTheta());
            ropeCos = toFloat(table[0]);
            ropeSin = toFloat(table[1]);
        } else {
            ropeCos = ropeSin = null;
        }
        layers = weights.layers().stream().map(l -> new Layer(norm(l.norm1()),
                l.qkv().stream().map(ForwardF32::linear).toArray(Linear[]::new), linear(l.attentionOut()),
                norm(l.norm2()), linear(l.gateOrFc()), linear(l.up()), linear(l.down()))).toArray(Layer[]::new);
        finalNorm = norm(weights.finalNorm());
        head = new Linear(array(weights.head()), null, vocab, dModel);
    }

    /** The tensor's storage array itself when it is a plain contiguous array (always, for Gpt's parameters). */
    private static float[] array(Tensor t) {
        if (t == null) {
            return null;
        }
        if (t.isContiguous() && t.offset() == 0 && t.f32Data().length == t.numel()) {
            return t.f32Data();
        }
        return t.toFloatArray();
    }

    private static Linear linear(ModelWeights.Linear l) {
        return l == null ? null : new Linear(array(l.weight()), array(l.bias()), l.out(), l.in());
    }

    private static Norm norm(ModelWeights.Norm n) {
        return new Norm(array(n.weight()), array(n.bias()));
    }

    private static float[] toFloat(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }

    // ------------------------------------------------------------------------------------------ states

    /** Keys and values per layer, [kvHeads, context, headDim] each, plus scratch for one row. */
    final class State extends KvCacheDecoder.KvState {
        final float[][] keys = new float[layers.length][kvHeads * context * headDim];
        final float[][] values = new float[layers.length][kvHeads * context * headDim];
        final Workspace scratch = new Workspace(1, false);

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
        final float[] x;           // the residual stream [R, D]
        final float[] normed;      // [R, D]
        final float[] qkv;         // [R, D + 2 kvWidth]: q | k | v
        final float[] attended;    // [R, D]
        final float[] projected;   // [R, D]: a branch's output before it is added to x
        final float[] hidden;      // [R, mlpHidden]
        final float[] up;          // [R, mlpHidden], SwiGLU only
        final float[] scores;      // [context]: one query's attention scores
        final float[] logits;      // [R, V] for a batched step, else null (logits go straight to the caller)

        Workspace(int capacity, boolean withLogits) {
            this.capacity = capacity;
            states = new State[capacity];
            positions = new int[capacity];
            tokens = new int[capacity];
            x = new float[capacity * dModel];
            normed = new float[capacity * dModel];
            qkv = new float[capacity * qkvWidth];
            attended = new float[capacity * dModel];
            projected = new float[capacity * dModel];
            hidden = new float[capacity * ForwardF32.this.hidden];
            up = gelu ? null : new float[capacity * ForwardF32.this.hidden];
            scores = new float[context];
            logits = withLogits ? new float[capacity * vocab] : null;
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
        Workspace ws = count == 1 ? s.scratch : new Workspace(count, false);
        for (int r = 0; r < count; r++) {
            ws.states[r] = s;
            ws.positions[r] = s.length + r;
            ws.tokens[r] = tokens[from + r];
        }
        forward(ws, count);
        int last = count - 1;
        normRows(ws.x, ws.normed, last, count, finalNorm);
        matmul(ws.normed, last * dModel, 1, head, logits, 0, vocab);
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
        normRows(ws.x, ws.normed, 0, 1, finalNorm);
        matmul(ws.normed, 0, 1, head, logits, 0, vocab);
        ws.states[0] = null;
    }

    @Override
    public void step(Decoder.State[] states, int[] tokens, float[][] logits) {
        int rows = states.length;
        Workspace ws = batchWorkspace.get();
        if (ws == null || ws.capacity < rows) {
            ws = new Workspace(rows, true);
            batchWorkspace.set(ws);
        }
        for (int r = 0; r < rows; r++) {
            ws.states[r] = (State) states[r];
            ws.positions[r] = states[r].length();
            ws.tokens[r] = tokens[r];
        }
        forward(ws, rows);
        normRows(ws.x, ws.normed, 0, rows, finalNorm);
        matmul(ws.normed, 0, rows, head, ws.logits, 0, vocab);
        for (int r = 0; r < rows; r++) {
            System.arraycopy(ws.logits, r * vocab, logits[r], 0, vocab);
        }
        Arrays.fill(ws.states, 0, rows, null);   // the per-thread scratch must not keep states alive
    }

    // ------------------------------------------------------------------------------------------ the model

    /** Runs rows [0, rows) of {@code ws} through every layer, leaving the last layer's output in ws.x. */
    private void forward(Workspace ws, int rows) {
        for (int r = 0; r < rows; r++) {
            System.arraycopy(tokenEmbedding, ws.tokens[r] * dModel, ws.x, r * dModel, dModel);
            if (positionEmbedding != null) {
                addInPlace(ws.x, r * dModel, positionEmbedding, ws.positions[r] * dModel, dModel);
            }
        }
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            normRows(ws.x, ws.normed, 0, rows, layer.norm1);
            int column = 0;
            for (Linear projection : layer.qkv) {   // one fused c_attn, or q_proj, k_proj, v_proj side by side
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
            addInPlace(ws.x, 0, ws.projected, 0, rows * dModel);

            normRows(ws.x, ws.normed, 0, rows, layer.norm2);
            matmul(ws.normed, 0, rows, layer.gateOrFc, ws.hidden, 0, hidden);
            if (gelu) {
                ElementwiseF32.gelu(ws.hidden, 0, ws.hidden, 0, rows * hidden);
            } else {
                matmul(ws.normed, 0, rows, layer.up, ws.up, 0, hidden);
                ElementwiseF32.silu(ws.hidden, 0, ws.hidden, 0, rows * hidden);
                multiplyInPlace(ws.hidden, ws.up, rows * hidden);
            }
            matmul(ws.hidden, 0, rows, layer.down, ws.projected, 0, dModel);
            addInPlace(ws.x, 0, ws.projected, 0, rows * dModel);
        }
    }

    /** Rotates row r's query and key heads to its position (RoPE) and writes its key and value into its cache. */
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

    /** Row r's query heads against its state's keys at positions [0, positions[r]]; into ws.attended. */
    private void attend(Workspace ws, int r, int layer) {
        State s = ws.states[r];
        float[] keys = s.keys[layer];
        float[] values = s.values[layer];
        float[] scores = ws.scores;
        int visible = ws.positions[r] + 1;
        int group = heads / kvHeads;
        for (int h = 0; h < heads; h++) {
            int q = r * qkvWidth + h * headDim;
            int base = (h / group) * context * headDim;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < visible; j++) {
                float score = Lanes.dot(ws.qkv, q, keys, base + j * headDim, headDim) * attentionScale;
                scores[j] = score;
                max = Math.max(max, score);
            }
            float sum = VectorMath.expShiftedSum(scores, 0, scores, 0, visible, max);
            int out = r * dModel + h * headDim;
            Arrays.fill(ws.attended, out, out + headDim, 0f);
            for (int j = 0; j < visible; j++) {
                axpy(scores[j], values, base + j * headDim, ws.attended, out, headDim);
            }
            scaleInPlace(ws.attended, out, headDim, 1f / sum);
        }
    }

    // ------------------------------------------------------------------------------------------ kernels

    /**
     * y[r, o] = x[r, :] · w[o, :] + b[o] for rows r < rows, written at y[yOff + r * ldy + o]; x rows are
     * contiguous from xOff. Large products split their output range over threads.
     */
    private static void matmul(float[] x, int xOff, int rows, Linear p, float[] y, int yOff, int ldy) {
        long macs = (long) rows * p.out * p.in;
        int tiles = (p.out + TILE - 1) / TILE;
        int tasks = (int) Math.min(Math.min(Parallel.threads(), tiles), macs / PARALLEL_MIN_MACS);
        if (tasks <= 1) {
            matmulOutputs(x, xOff, rows, p, y, yOff, ldy, 0, p.out);
            return;
        }
        Parallel.forEachRange(p.out, tasks, TILE, OUTPUTS.take().set(x, xOff, rows, p, y, yOff, ldy));
    }

    /**
     * Output ranges [from, to) of {@link #matmul}, whole tiles apart, as a reusable parallel task (see
     * {@link Parallel.RangeTask}): decoding a token runs a few of these per layer, with no closure per call.
     */
    private static final class MatmulOutputs extends Parallel.RangeTask {
        private float[] x, y;
        private Linear p;
        private int xOff, rows, yOff, ldy;

        MatmulOutputs set(float[] x, int xOff, int rows, Linear p, float[] y, int yOff, int ldy) {
            this.x = x;
            this.xOff = xOff;
            this.rows = rows;
            this.p = p;
            this.y = y;
            this.yOff = yOff;
            this.ldy = ldy;
            return this;
        }

        @Override
        protected void run(int from, int to) {
            matmulOutputs(x, xOff, rows, p, y, yOff, ldy, from, to);
        }

        @Override
        protected void clear() {
            x = y = null;
            p = null;
        }
    }

    private static final Parallel.TaskCache<MatmulOutputs> OUTPUTS = new Parallel.TaskCache<>(MatmulOutputs::new);

    /** Outputs [from, to) of every row. A tile of four weight rows stays in L1 while every x row passes it. */
    private static void matmulOutputs(float[] x, int xOff, int rows, Linear p, float[] y, int yOff, int ldy, int from,
            int to) {
        int in = p.in;
        int o = from;
        for (; o + TILE <= to; o += TILE) {
            for (int r = 0; r < rows; r++) {
                dot4(p.w, o * in, in, x, xOff + r * in, p.b, o, y, yOff + r * ldy + o);
            }
        }
        for (; o < to; o++) {
            for (int r = 0; r < rows; r++) {
                float sum = Lanes.dot(p.w, o * in, x, xOff + r * in, in);
                y[yOff + r * ldy + o] = p.b == null ? sum : sum + p.b[o];
            }
        }
    }

    /** Four consecutive outputs o..o+3 of one row, each computed exactly as {@link Lanes#dot} computes it. */
    private static void dot4(float[] w, int wOff, int n, float[] x, int xOff, float[] b, int o, float[] y, int yOff) {
        var acc0 = FloatVector.zero(F);
        var acc1 = FloatVector.zero(F);
        var acc2 = FloatVector.zero(F);
        var acc3 = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            var xv = FloatVector.fromArray(F, x, xOff + i);
            acc0 = FloatVector.fromArray(F, w, wOff + i).fma(xv, acc0);
            acc1 = FloatVector.fromArray(F, w, wOff + n + i).fma(xv, acc1);
            acc2 = FloatVector.fromArray(F, w, wOff + 2 * n + i).fma(xv, acc2);
            acc3 = FloatVector.fromArray(F, w, wOff + 3 * n + i).fma(xv, acc3);
        }
        acc0 = acc0.add(acc0.rearrange(SWAP_HALVES));
        acc1 = acc1.add(acc1.rearrange(SWAP_HALVES));
        acc2 = acc2.add(acc2.rearrange(SWAP_HALVES));
        acc3 = acc3.add(acc3.rearrange(SWAP_HALVES));
        if (F.length() >= 4) {
            acc0 = acc0.add(acc0.rearrange(SWAP_QUARTERS));
            acc1 = acc1.add(acc1.rearrange(SWAP_QUARTERS));
            acc2 = acc2.add(acc2.rearrange(SWAP_QUARTERS));
            acc3 = acc3.add(acc3.rearrange(SWAP_QUARTERS));
        }
        if (F.length() >= 8) {
            acc0 = acc0.add(acc0.rearrange(SWAP_EIGHTHS));
            acc1 = acc1.add(acc1.rearrange(SWAP_EIGHTHS));
            acc2 = acc2.add(acc2.rearrange(SWAP_EIGHTHS));
            acc3 = acc3.add(acc3.rearrange(SWAP_EIGHTHS));
        }
        if (F.length() >= 16) {
            acc0 = acc0.add(acc0.rearrange(SWAP_SIXTEENTHS));
            acc1 = acc1.add(acc1.rearrange(SWAP_SIXTEENTHS));
            acc2 = acc2.add(acc2.rearrange(SWAP_SIXTEENTHS));
            acc3 = acc3.add(acc3.rearrange(SWAP_SIXTEENTHS));
        }
        float s0 = acc0.lane(0);
        float s1 = acc1.lane(0);
        float s2 = acc2.lane(0);
        float s3 = acc3.lane(0);
        for (; i < n; i++) {
            float xi = x[xOff + i];
            s0 = Math.fma(w[wOff + i], xi, s0);
            s1 = Math.fma(w[wOff + n + i], xi, s1);
            s2 = Math.fma(w[wOff + 2 * n + i], xi, s2);
            s3 = Math.fma(w[wOff + 3 * n + i], xi, s3);
        }
        if (b != null) {
            s0 += b[o];
            s1 += b[o + 1];
            s2 += b[o + 2];
            s3 += b[o + 3];
        }
        y[yOff] = s0;
        y[yOff + 1] = s1;
        y[yOff + 2] = s2;
        y[yOff + 3] = s3;
    }

    private static VectorShuffle<Float> butterfly(int distance) {
        int[] lanes = new int[F.length()];
        for (int i = 0; i < lanes.length; i++) {
            lanes[i] = i ^ distance;
        }
        return VectorShuffle.fromArray(F, lanes, 0);
    }

    /** y += alpha x */
    private static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        var a = FloatVector.broadcast(F, alpha);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xOff + i).fma(a, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    private static void scaleInPlace(float[] x, int off, int n, float factor) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, off + i).mul(factor).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= factor;
        }
    }

    private static void addInPlace(float[] y, int yOff, float[] x, int xOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, y, yOff + i).add(FloatVector.fromArray(F, x, xOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += x[xOff + i];
        }
    }

    private static void multiplyInPlace(float[] y, float[] x, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, y, i).mul(FloatVector.fromArray(F, x, i)).intoArray(y, i);
        }
        for (; i < n; i++) {
            y[i] *= x[i];
        }
    }

    /** RoPE on one head at {@code off}: (x[i], x[i + D/2]) rotated by pos · theta^(-2i/D), as the Rope op does. */
    private void rotate(float[] x, int off, int pos) {
        int half = headDim / 2;
        int table = pos * half;
        int i = 0;
        for (int bound = F.loopBound(half); i < bound; i += F.length()) {
            var first = FloatVector.fromArray(F, x, off + i);
            var second = FloatVector.fromArray(F, x, off + half + i);
            var cos = FloatVector.fromArray(F, ropeCos, table + i);
            var sin = FloatVector.fromArray(F, ropeSin, table + i);
            first.mul(cos).sub(second.mul(sin)).intoArray(x, off + i);
            second.mul(cos).add(first.mul(sin)).intoArray(x, off + half + i);
        }
        for (; i < half; i++) {
            float first = x[off + i];
            float second = x[off + half + i];
            float cos = ropeCos[table + i];
            float sin = ropeSin[table + i];
            x[off + i] = first * cos - second * sin;
            x[off + half + i] = second * cos + first * sin;
        }
    }

    /** The layer's LayerNorm or RMSNorm on rows [from, to) of x into y. */
    private void normRows(float[] x, float[] y, int from, int to, Norm norm) {
        for (int r = from; r < to; r++) {
            if (layerNorm) {
                layerNormRow(x, r * dModel, norm.w, norm.b, eps, y, dModel);
            } else {
                rmsNormRow(x, r * dModel, norm.w, eps, y, dModel);
            }
        }
    }

    /** Two passes (mean, then squared deviations), as the LayerNorm op computes it; bias may be null. */
    private static void layerNormRow(float[] x, int off, float[] w, float[] b, float eps, float[] y, int n) {
        float mean = Lanes.sum(x, off, n) / n;
        float squares = Lanes.sumSquaredDeviations(x, off, n, mean);
        var meanV = FloatVector.broadcast(F, mean);
        int bound = F.loopBound(n);
        int i;
        float rstd = (float) (1.0 / Math.sqrt(squares / n + eps));
        for (i = 0; i < bound; i += F.length()) {
            var normed = FloatVector.fromArray(F, x, off + i).sub(meanV).mul(rstd).mul(FloatVector.fromArray(F, w, i));
            (b == null ? normed : normed.add(FloatVector.fromArray(F, b, i))).intoArray(y, off + i);
        }
        for (; i < n; i++) {
            float normed = (x[off + i] - mean) * rstd * w[i];
            y[off + i] = b == null ? normed : normed + b[i];
        }
    }

    private static void rmsNormRow(float[] x, int off, float[] w, float eps, float[] y, int n) {
        float squares = Lanes.dot(x, off, x, off, n);
        int bound = F.loopBound(n);
        int i;
        float rstd = (float) (1.0 / Math.sqrt(squares / n + eps));
        for (i = 0; i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, off + i).mul(rstd).mul(FloatVector.fromArray(F, w, i)).intoArray(y, off + i);
        }
        for (; i < n; i++) {
            y[off + i] = x[off + i] * rstd * w[i];
        }
    }
}
