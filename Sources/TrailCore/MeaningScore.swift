import Foundation

/// How `sense` with `similar` scores a note (contract §8), written once.
///
/// Alone, `similar` ranks by meaning first and strength second:
///
///     score = similarity + 0.1 · ln(1 + weight · (1 + rank))
///
/// so a reinforced note gains what a small change of meaning is worth (a
/// weight of 1 adds 0.069, 10 adds 0.24, 100 adds 0.46) and a faded one
/// almost nothing; both terms only ever raise the score as they grow.
///
/// With `query` too, two rankings are fused by reciprocal rank:
///
///     score = 1 / (60 + r_meaning) + 1 / (60 + r_words)
///
/// where r_meaning is the note's place (from 1) in the meaning order above
/// and r_words its place in the words order of a `sense` with `query` alone
/// (`weight × (1 + relevance) × (1 + rank)`), each list taken to its first
/// `depth(limit)` notes after the filters; a note missing from a list gets
/// nothing from it. Ties go to the smaller id.
public enum MeaningScore {
    /// How much strength counts against meaning.
    public static let strengthFactor = 0.1
    /// Reciprocal-rank fusion's constant (the usual 60: the first places do not swamp the rest).
    public static let fusionConstant = 60.0

    /// The score of a note found by meaning alone.
    public static func alone(similarity: Double, weight: Double, rank: Double?) -> Double {
        similarity + strengthFactor * log1p(max(0, weight) * (1 + (rank ?? 0)))
    }

    /// The fused score of a note at these places (from 1) of the two lists.
    public static func fused(meaningPlace: Int?, wordsPlace: Int?) -> Double {
        (meaningPlace.map { 1 / (fusionConstant + Double($0)) } ?? 0)
            + (wordsPlace.map { 1 / (fusionConstant + Double($0)) } ?? 0)
    }

    /// How deep each list of a fused search goes: 100 notes, or `limit` if more.
    public static func depth(limit: Int) -> Int { max(100, limit) }
}
