/// The Swift client of traild (see issue 4): placeholder until it lands.
public enum TrailClientInfo {
    public static let name = "TrailClient"
}
