/// The PostgreSQL engine: several `traild` over one database (contract §9).
/// Under construction; see docs/decisions.md.
public enum PostgresEngine {
    /// The engine's name in `trail.hello` and `trailctl status`.
    public static let name = "postgres"
}
