/// The version of this build of Mesa for Swift.
public enum MesaVersion {
    /// The semantic version string printed by `mesa version`.
    public static let current = "0.1.0"
}
