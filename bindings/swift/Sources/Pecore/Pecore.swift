// Pecore — a thin Swift layer over the C API (CPecore = include/pecore.h).
// A Model is immutable and shared by threads; an Encoder (a pe_ctx) is for
// one thread at a time and serialises its calls with a lock.
import CPecore
import CoreVideo
import Foundation
import ImageIO

public struct PecoreError: Error, CustomStringConvertible {
    public let status: pe_status
    public let message: String
    public var description: String { message }
}

@inline(__always) func check(_ s: pe_status) throws {
    if s != PE_OK { throw PecoreError(status: s, message: String(cString: pe_last_error())) }
}

public final class Model {
    let ptr: OpaquePointer
    public let info: pe_model_info

    public init(path: String, visionOnly: Bool = false) throws {
        var opt = pe_model_options()
        opt.vision_only = visionOnly ? 1 : 0
        var m: OpaquePointer?
        try check(pe_model_load(path, &opt, &m))
        ptr = m!
        var i = pe_model_info()
        pe_model_get_info(ptr, &i)
        info = i
    }

    deinit { pe_model_free(ptr) }

    public var embeddingSize: Int { Int(info.out_dim) }
}

/// The arithmetic of an Encoder (pe_compute).
public enum Compute {
    case f32
    case f16
}

public final class Encoder {
    public let model: Model      // kept alive as long as the encoder
    let ctx: OpaquePointer
    let lock = NSLock()

    /// compute: .f32 (default) or .f16, the block linears in half precision
    /// (pe_compute; ARMv8.2 FP16: A13 / M1 and later, else a PecoreError
    /// with PE_ERR_UNSUPPORTED).
    public init(model: Model, threads: Int = 0, compute: Compute = .f32) throws {
        var opt = pe_ctx_options()   // zeroed: the fast cores (pe_cores)
        opt.n_threads = Int32(threads)
        opt.compute = compute == .f16 ? PE_COMPUTE_F16 : PE_COMPUTE_F32
        var c: OpaquePointer?
        try check(pe_ctx_create(model.ptr, &opt, &c))
        self.model = model
        ctx = c!
    }

    deinit { pe_ctx_free(ctx) }

    /// The embedding of a camera or image buffer: 32BGRA, or NV12 ('420v'
    /// video range, '420f' full range; BT.709 when the buffer says so),
    /// read in place.  orientation is how the buffer must be turned to be
    /// upright (Vision's convention: .right for the back camera in portrait).
    public func encode(pixelBuffer pb: CVPixelBuffer,
                       orientation: CGImagePropertyOrientation = .up) throws -> [Float] {
        CVPixelBufferLockBaseAddress(pb, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pb, .readOnly) }
        var f = pe_frame()
        f.width = Int32(CVPixelBufferGetWidth(pb))
        f.height = Int32(CVPixelBufferGetHeight(pb))
        func plane(_ i: Int) -> pe_plane {
            let rows = CVPixelBufferGetHeightOfPlane(pb, i), stride = CVPixelBufferGetBytesPerRowOfPlane(pb, i)
            return pe_plane(data: UnsafePointer(CVPixelBufferGetBaseAddressOfPlane(pb, i)?.assumingMemoryBound(to: UInt8.self)),
                            size: rows * stride, row_stride: stride, pixel_stride: 0)
        }
        switch CVPixelBufferGetPixelFormatType(pb) {
        case kCVPixelFormatType_32BGRA:
            let stride = CVPixelBufferGetBytesPerRow(pb)
            f.format = PE_FRAME_BGRA8
            f.planes.0 = pe_plane(data: UnsafePointer(CVPixelBufferGetBaseAddress(pb)?.assumingMemoryBound(to: UInt8.self)),
                                  size: stride * Int(f.height), row_stride: stride, pixel_stride: 4)
        case let t where t == kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange
                      || t == kCVPixelFormatType_420YpCbCr8BiPlanarFullRange:
            let full = t == kCVPixelFormatType_420YpCbCr8BiPlanarFullRange
            let matrix = CVBufferGetAttachment(pb, kCVImageBufferYCbCrMatrixKey, nil)?
                .takeUnretainedValue() as? String
            let hd = matrix == (kCVImageBufferYCbCrMatrix_ITU_R_709_2 as String)
            f.format = PE_FRAME_NV12
            f.yuv = hd ? (full ? PE_YUV_BT709_FULL : PE_YUV_BT709_LIMITED)
                       : (full ? PE_YUV_BT601_FULL : PE_YUV_BT601_LIMITED)
            f.planes.0 = plane(0)
            f.planes.1 = plane(1)
        default:
            throw PecoreError(status: PE_ERR_UNSUPPORTED,
                              message: "pixel buffer format must be 32BGRA, 420v or 420f")
        }
        try check(pe_frame_set_orientation(&f, Int32(orientation.rawValue)))
        var out = [Float](repeating: 0, count: model.embeddingSize)
        lock.lock()
        defer { lock.unlock() }
        try out.withUnsafeMutableBufferPointer {
            try check(pe_encode_frame(ctx, &f, nil, PE_OUTPUT_EMBEDDING, $0.baseAddress, $0.count))
        }
        return out
    }
}
