package dev.jgrad.models.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.tensor.Rng;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SequencePackerTest {
    static final int EOT = 99;

    @Test
    void smallDocumentsAccumulateIntoFullWindowsAndBatches() {
        var packer = new SequencePacker(2, 4, EOT);
        assertEquals(List.of(), packer.add(new int[] {1, 2}));   // stream: 1 2 99
        assertEquals(3, packer.pendingTokens());
        assertEquals(List.of(), packer.add(new int[] {3}));      // 1 2 99 3 99 -> window [1 2 99 3 | 99]
        assertEquals(1, packer.pendingWindows());
        assertEquals(1, packer.pendingTokens());                 // 99 carries over as the next window's first input
        List<Batch> ready = packer.add(new int[] {4, 5, 6, 7, 8}); // 99 4 5 6 7 8 99 -> window [99 4 5 6 | 7]
        assertEquals(1, ready.size());
        Batch batch = ready.get(0);
        assertArrayEquals(new int[] {2, 4}, batch.shape());
        assertArrayEquals(new int[] {1, 2, EOT, 3, EOT, 4, 5, 6}, batch.inputs());
        assertArrayEquals(new int[] {2, EOT, 3, EOT, 4, 5, 6, 7}, batch.targets());
        assertEquals(0, packer.pendingWindows());
        assertEquals(3, packer.pendingTokens());                 // 7 8 99
        assertEquals(Optional.empty(), packer.flush());          // 3 tokens are no full window: never padded
        assertEquals(3, packer.documents());
    }

    @Test
    void packingEqualsTilingTheConcatenatedStream() {
        var rng = new Rng(11);
        int batchSize = 3;
        int context = 5;
        var packer = new SequencePacker(batchSize, context, EOT);
        List<Integer> stream = new ArrayList<>();
        List<Batch> packed = new ArrayList<>();
        for (int d = 0; d < 40; d++) {
            int[] doc = new int[rng.nextInt(12)]; // empty documents included
            for (int i = 0; i < doc.length; i++) {
                doc[i] = rng.nextInt(50);
                stream.add(doc[i]);
            }
            stream.add(EOT);
            packed.addAll(packer.add(doc));
        }
        packer.flush().ifPresent(packed::add);

        int[] all = stream.stream().mapToInt(Integer::intValue).toArray();
        List<Batch> tiled = new ArrayList<>();
        TokenDataset.of(all).windows(batchSize, context).forEach(tiled::add);
        assertEquals(tiled.size(), packed.size());
        for (int i = 0; i < tiled.size(); i++) {
            assertEquals(tiled.get(i).rows(), packed.get(i).rows());
            assertArrayEquals(tiled.get(i).inputs(), packed.get(i).inputs());
            assertArrayEquals(tiled.get(i).targets(), packed.get(i).targets());
        }
        long windows = (all.length - 1) / context;
        assertEquals(all.length - windows * context, packer.pendingTokens());
        assertTrue(packed.stream().limit(packed.size() - 1).allMatch(b -> b.rows() == batchSize));
    }

    @Test
    void oneLongDocumentCanFillSeveralBatches() {
        var packer = new SequencePacker(2, 3, EOT);
        int[] doc = new int[20];
        List<Batch> ready = packer.add(doc); // 21 tokens -> 6 windows -> 3 batches
        assertEquals(3, ready.size());
        assertEquals(3, packer.pendingTokens());
        assertThrows(IllegalArgumentException.class, () -> new SequencePacker(0, 3, EOT));
        assertThrows(IllegalArgumentException.class, () -> new SequencePacker(2, 3, -1));
    }
}
