import Foundation

/// How `sense` with `similar` scores a note (contract §8), written once.
///
/// Alone, `similar` lets strength lead among the notes about equally near
/// the question and meaning lead beyond them:
///
///     near  = best − 0.15
///     score = min(similarity, near) + 0.05 · max(0, similarity − near)
///             + 0.1 · ln(1 + weight · (1 + rank))
///
/// where `best` is the highest similarity among the notes that pass the
/// filters. Within 0.15 of the best, similarity counts a twentieth as much
/// as below: a note 0.1 nearer there loses to one whose 1 + weight is
/// e^0.05 ≈ 1.05 times as large, so a stronger note leads whichever is
/// worded a little nearer, and notes of equal weight keep the order of
/// their similarity. (With this model, the notes that answer one question
/// in its own words mostly lie within 0.1 of each other, and notes in other
/// words or on other questions 0.19 or more below the best.) Below the
/// band a note 0.1 further needs e ≈ 2.7 times the 1 + weight. Both terms
/// only ever raise the score as they grow; equal scores go to the nearer
/// note, then the smaller id.
///
/// With `query` too, two rankings are fused by reciprocal rank:
///
///     score = 1 / (60 + r_meaning) + 1 / (60 + r_words)
///
/// where r_meaning is the note's place (from 1) in the meaning order above
/// and r_words its place in the words order of a `sense` with `query` alone
/// (`weight × (1 + relevance) × (1 + rank)`), each list taken to its first
/// `depth(limit)` notes after the filters; a note missing from a list gets
/// nothing from it. Ties go to the nearer note, then the smaller id.
public enum MeaningScore {
    /// How much strength counts against meaning.
    public static let strengthFactor = 0.1
    /// Reciprocal-rank fusion's constant (the usual 60: the first places do not swamp the rest).
    public static let fusionConstant = 60.0

    /// How far below the best similarity a note still counts as equally
    /// near, so that strength orders it.
    public static let nearBand = 0.15

    /// How much a difference of similarity counts within the band, against
    /// below it.
    public static let nearSlope = 0.05

    /// The score of a note found by meaning alone, when the nearest note
    /// that passes the filters has similarity `best`.
    public static func alone(similarity: Double, best: Double, weight: Double, rank: Double?) -> Double {
        let near = best - nearBand
        let meaning = min(similarity, near) + nearSlope * max(0, similarity - near)
        return meaning + strengthFactor * log1p(max(0, weight) * (1 + (rank ?? 0)))
    }

    /// The fused score of a note at these places (from 1) of the two lists.
    public static func fused(meaningPlace: Int?, wordsPlace: Int?) -> Double {
        (meaningPlace.map { 1 / (fusionConstant + Double($0)) } ?? 0)
            + (wordsPlace.map { 1 / (fusionConstant + Double($0)) } ?? 0)
    }

    /// How deep each list of a fused search goes: 100 notes, or `limit` if more.
    public static func depth(limit: Int) -> Int { max(100, limit) }
}
