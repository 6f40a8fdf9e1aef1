package dev.pecore;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** pe_classification: the best classes, the coarse level, the nearest entries. */
public final class Classification {
    public static final class LabelScore {
        public final String label;
        public final int index;
        /** Probability (prototypes) or vote share (KNN). */
        public final float score;
        /** logit_scale * cosine (prototypes) or summed vote weight (KNN). */
        public final float logit;

        LabelScore(String label, int index, float score, float logit) {
            this.label = label; this.index = index; this.score = score; this.logit = logit;
        }

        @Override
        public String toString() { return label + " " + score; }
    }

    public static final class Neighbor {
        public final String label, source;
        public final int entry;
        public final float similarity, distance;

        Neighbor(String label, String source, int entry, float similarity, float distance) {
            this.label = label; this.source = source; this.entry = entry;
            this.similarity = similarity; this.distance = distance;
        }
    }

    /** Best first. */
    public final List<LabelScore> top, coarse;
    /** The best class is below its threshold. */
    public final boolean unknown;
    /** KNN only, nearest first. */
    public final List<Neighbor> neighbors;

    /* From the JNI glue: one array per field, labels as UTF-8. */
    Classification(byte[][] topLabel, int[] topIndex, float[] topScore, float[] topLogit,
                   boolean unknown, byte[][] coarseLabel, int[] coarseIndex, float[] coarseScore,
                   float[] coarseLogit, byte[][] nLabel, byte[][] nSource, int[] nEntry,
                   float[] nSimilarity, float[] nDistance) {
        top = scores(topLabel, topIndex, topScore, topLogit);
        coarse = scores(coarseLabel, coarseIndex, coarseScore, coarseLogit);
        this.unknown = unknown;
        List<Neighbor> n = new ArrayList<>(nLabel.length);
        for (int i = 0; i < nLabel.length; i++)
            n.add(new Neighbor(Handle.string(nLabel[i]), Handle.string(nSource[i]), nEntry[i],
                               nSimilarity[i], nDistance[i]));
        neighbors = Collections.unmodifiableList(n);
    }

    private static List<LabelScore> scores(byte[][] l, int[] idx, float[] s, float[] lg) {
        List<LabelScore> out = new ArrayList<>(l.length);
        for (int i = 0; i < l.length; i++)
            out.add(new LabelScore(Handle.string(l[i]), idx[i], s[i], lg[i]));
        return Collections.unmodifiableList(out);
    }

    /** The best label, or null when unknown. */
    public String label() { return unknown || top.isEmpty() ? null : top.get(0).label; }
}
