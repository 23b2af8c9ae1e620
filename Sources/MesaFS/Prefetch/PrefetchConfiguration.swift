/// When and how much MesaFS loads ahead of use (DESIGN.md section 5, "Prefetch"; the `MESA_PREFETCH_*`
/// variables).
package struct PrefetchConfiguration: Sendable, Hashable {
    /// Whether to prefetch at all (`MESA_PREFETCH_ENABLED`, default true).
    package var enabled = true
    /// Levels of trees fetched below a visited directory (`MESA_PREFETCH_MAX_DEPTH`; `nil`, the default: all).
    package var maxDepth: Int?
    /// Prefetch requests running at once; further ones are dropped (`MESA_PREFETCH_MAX_CONCURRENCY`, default 8).
    package var maxConcurrency = 8
    /// No prefetch while the disk cache's unpinned bytes exceed this fraction of its bound
    /// (`MESA_PREFETCH_CACHE_PRESSURE_LIMIT`, default 0.80).
    package var cachePressureLimit = 0.80
    /// Files up to this size are fetched with their directory, in one batch.
    package var smallFileBytes: Int64 = 256 << 10
    /// At most this many bytes of a directory's small files are fetched with it.
    package var directoryByteBudget: Int64 = 16 << 20
    /// A recursive walk is this many directories read under one root within ``walkWindow``.
    package var walkDirectoryCount = 8
    /// The time window of walk detection.
    package var walkWindow: Duration = .seconds(2)
    /// Bytes of content streamed for one detected walk.
    package var walkByteBudget: Int64 = 512 << 20
    /// Files larger than this are left out of a walk's streaming (their manifests still come).
    package var walkMaxFileBytes: Int64 = 8 << 20

    /// The defaults listed above.
    package static let `default` = PrefetchConfiguration()

    /// No prefetch at all.
    package static let disabled: PrefetchConfiguration = {
        var configuration = PrefetchConfiguration()
        configuration.enabled = false
        return configuration
    }()

    /// Creates the defaults.
    package init() {}
}
