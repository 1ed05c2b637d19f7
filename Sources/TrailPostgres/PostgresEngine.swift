/// The PostgreSQL engine: several `traild` over one database (contract §9);
/// `PostgresStore` is its `TrailStore`, docs/decisions.md says how it keeps
/// several daemons in step.
public enum PostgresEngine {
    /// The engine's name in `trail.hello` and `trailctl status`.
    public static let name = "postgres"
}
