package dev.jgrad.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.Rng;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenDatasetTest {
    @TempDir
    Path dir;

    private static int[] arange(int n) {
        int[] ids = new int[n];
        Arrays.setAll(ids, i -> i);
        return ids;
    }

    @Test
    void splitKeepsTheLastFractionForValidation() {
        var split = TokenDataset.of(arange(100)).split(0.1);
        assertEquals(90, split.train().size());
        assertEquals(10, split.validation().size());
        assertEquals(0, split.train().get(0));
        assertEquals(89, split.train().get(89));
        assertEquals(90, split.validation().get(0));
        assertEquals(99, split.validation().get(9));
        assertThrows(IndexOutOfBoundsException.class, () -> split.train().get(90));
        // nanoGPT's int(n * 0.9) for an n that does not divide evenly
        var odd = TokenDataset.of(arange(1003)).split(0.1);
        assertEquals((int) (1003 * 0.9), odd.train().size());
        assertEquals(1003 - (int) (1003 * 0.9), odd.validation().size());
        assertThrows(IllegalArgumentException.class, () -> TokenDataset.of(arange(10)).split(0));
        assertThrows(IllegalArgumentException.class, () -> TokenDataset.of(arange(10)).split(1));
    }

    @Test
    void samplesAreSeededAndTargetsAreInputsShiftedByOne() {
        var data = TokenDataset.of(arange(1000)).split(0.1).train();
        Batch a = data.sample(new Rng(5), 8, 16);
        Batch b = data.sample(new Rng(5), 8, 16);
        Batch c = data.sample(new Rng(6), 8, 16);
        assertArrayEquals(a.inputs(), b.inputs());
        assertArrayEquals(a.targets(), b.targets());
        assertFalse(Arrays.equals(a.inputs(), c.inputs()));
        assertArrayEquals(new int[] {8, 16}, a.shape());
        for (int r = 0; r < 8; r++) {
            int start = a.input(r, 0);
            for (int t = 0; t < 16; t++) { // with ids = positions, a window is consecutive numbers
                assertEquals(start + t, a.input(r, t));
                assertEquals(start + t + 1, a.target(r, t));
            }
            assertTrue(start + 16 < 900, "window must stay inside the training split");
        }
    }

    @Test
    void everyStartIsReachableAndNoneBeyond() {
        var data = TokenDataset.of(arange(12));
        var starts = new TreeSet<Integer>();
        Batch batch = data.sample(new Rng(1), 400, 4);
        for (int r = 0; r < batch.rows(); r++) {
            starts.add(batch.input(r, 0));
        }
        // 12 tokens, context 4: a window needs 5 tokens, so starts 0..7, as torch.randint(len(data) - block_size)
        assertEquals(new TreeSet<>(List.of(0, 1, 2, 3, 4, 5, 6, 7)), starts);
        var e = assertThrows(IllegalArgumentException.class, () -> TokenDataset.of(arange(4)).sample(new Rng(1), 1, 4));
        assertTrue(e.getMessage().contains("needs 5 tokens") && e.getMessage().contains("has 4"), e.getMessage());
    }

    @Test
    void aMappedTokenFileSamplesExactlyLikeTheArray() {
        var rng = new Rng(3);
        int[] ids = new int[5000];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rng.nextInt(50257);
        }
        Path file = dir.resolve("tokens.bin");
        TokenFile.write(file, ids, 50257, 50256);
        var fromFile = TokenDataset.open(file).split(0.1);
        var fromArray = TokenDataset.of(ids).split(0.1);
        for (long seed = 0; seed < 3; seed++) {
            Batch x = fromFile.train().sample(new Rng(seed), 4, 64);
            Batch y = fromArray.train().sample(new Rng(seed), 4, 64);
            assertArrayEquals(y.inputs(), x.inputs());
            assertArrayEquals(y.targets(), x.targets());
        }
        Batch v = fromFile.validation().windows(1, 10).iterator().next();
        assertArrayEquals(Arrays.copyOfRange(ids, 4500, 4510), v.inputs());
        assertArrayEquals(Arrays.copyOfRange(ids, 4501, 4511), v.targets());
    }

    @Test
    void evaluationWindowsTileTheDataOnce() {
        var data = TokenDataset.of(arange(11));
        assertEquals(3, data.windowCount(3)); // starts 0, 3, 6; the window at 9 would need token 12
        List<Batch> batches = new ArrayList<>();
        data.windows(2, 3).forEach(batches::add);
        assertEquals(List.of(2, 1), batches.stream().map(Batch::rows).toList());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, batches.get(0).inputs());
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6}, batches.get(0).targets());
        assertArrayEquals(new int[] {6, 7, 8}, batches.get(1).inputs());
        assertArrayEquals(new int[] {7, 8, 9}, batches.get(1).targets());
        // iterating twice gives the same windows
        int rows = 0;
        for (Batch b : data.windows(2, 3)) {
            rows += b.rows();
        }
        assertEquals(3, rows);
        assertEquals(1, TokenDataset.of(arange(4)).windowCount(3));
        assertEquals(0, TokenDataset.of(arange(3)).windowCount(3));
    }
}
