// swift-tools-version:5.7
// pecore for iOS / macOS apps: CPecore is the C API (include/pecore.h) as a
// Clang module, Pecore a thin Swift layer over it.  The app links
// libpecore.a built for its platform (README: "Use from an iOS app").
import PackageDescription

let package = Package(
    name: "Pecore",
    platforms: [.iOS(.v13), .macOS(.v11)],
    products: [.library(name: "Pecore", targets: ["Pecore"])],
    targets: [
        .systemLibrary(name: "CPecore", path: "Sources/CPecore"),
        .target(name: "Pecore", dependencies: ["CPecore"], path: "Sources/Pecore",
                // libpecore.a needs zlib (the SDK's) and utf8proc (built with it)
                linkerSettings: [.linkedLibrary("z"), .linkedLibrary("utf8proc")]),
    ]
)
