import COpenVINOTypes
import EdgeInsightCore
import Foundation

/// OpenVINO's C library, opened with dlopen at run time, and the functions EdgeInsight calls.
///
/// The Python wheel ships `libopenvino_c.so.<version>` without an unversioned symlink and with
/// RPATH `$ORIGIN`, so it is opened by absolute path and finds its plugins beside itself.
final class OpenVINOLibrary: @unchecked Sendable {
    let path: String
    let version: String

    let lastError: ei_fn_last_error
    let freeString: ei_fn_free_string
    let coreCreate: ei_fn_core_create
    let coreFree: ei_fn_free
    let readModel: ei_fn_core_read_model
    let compileModel: ei_fn_core_compile_model_props
    let modelFree: ei_fn_free
    let modelInputsSize: ei_fn_count
    let modelInput: ei_fn_port_by_index
    let reshapeByPortIndexes: ei_fn_model_reshape_by_port_indexes
    let portName: ei_fn_port_name
    let portElementType: ei_fn_port_element_type
    let portPartialShape: ei_fn_port_partial_shape
    let portFree: ei_fn_free
    let partialShapeCreate: ei_fn_partial_shape_create
    let partialShapeFree: ei_fn_partial_shape_free
    let pppCreate: ei_fn_ppp_create
    let pppInputInfo: ei_fn_ppp_input_info_by_index
    let pppTensorInfo: ei_fn_ppp_get_tensor_info
    let pppSetElementType: ei_fn_ppp_set_element_type
    let pppBuild: ei_fn_ppp_build
    let pppFree: ei_fn_free
    let pppInputInfoFree: ei_fn_free
    let pppTensorInfoFree: ei_fn_free
    let compiledFree: ei_fn_free
    let compiledProperty: ei_fn_compiled_get_property
    let compiledInputsSize: ei_fn_count
    let compiledInput: ei_fn_port_by_index
    let compiledOutputsSize: ei_fn_count
    let compiledOutput: ei_fn_port_by_index
    let createRequest: ei_fn_create_infer_request
    let requestFree: ei_fn_free
    let requestInput: ei_fn_request_tensor_by_index
    let requestOutput: ei_fn_request_tensor_by_index
    let requestInfer: ei_fn_request_run
    let requestStart: ei_fn_request_run
    let requestWait: ei_fn_request_run
    let requestSetCallback: ei_fn_request_set_callback
    let tensorData: ei_fn_tensor_data
    let tensorByteSize: ei_fn_tensor_byte_size
    let tensorShape: ei_fn_tensor_shape
    let tensorSetShape: ei_fn_tensor_set_shape
    let shapeFree: ei_fn_shape_free
    let tensorFree: ei_fn_free

    /// The library found by `locate()`, opened once per process.
    static let shared: Result<OpenVINOLibrary, EngineError> = {
        do throws(EngineError) {
            return .success(try OpenVINOLibrary(path: try locate()))
        } catch {
            return .failure(error)
        }
    }()

    private init(path: String) throws(EngineError) {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw .openVINOUnusable(path: path, reason: String(cString: dlerror()))
        }
        func symbol<T>(_ name: String) throws(EngineError) -> T {
            guard let pointer = dlsym(handle, name) else {
                throw .openVINOUnusable(path: path, reason: "symbol \(name) missing (need OpenVINO 2026.4 or newer)")
            }
            return unsafeBitCast(pointer, to: T.self)
        }
        self.path = path
        lastError = try symbol("ov_get_last_err_msg")
        freeString = try symbol("ov_free")
        coreCreate = try symbol("ov_core_create")
        coreFree = try symbol("ov_core_free")
        readModel = try symbol("ov_core_read_model")
        compileModel = try symbol("ov_core_compile_model_props")
        modelFree = try symbol("ov_model_free")
        modelInputsSize = try symbol("ov_model_inputs_size")
        modelInput = try symbol("ov_model_const_input_by_index")
        reshapeByPortIndexes = try symbol("ov_model_reshape_by_port_indexes")
        portName = try symbol("ov_port_get_any_name")
        portElementType = try symbol("ov_port_get_element_type")
        portPartialShape = try symbol("ov_port_get_partial_shape")
        portFree = try symbol("ov_output_const_port_free")
        partialShapeCreate = try symbol("ov_partial_shape_create")
        partialShapeFree = try symbol("ov_partial_shape_free")
        pppCreate = try symbol("ov_preprocess_prepostprocessor_create")
        pppInputInfo = try symbol("ov_preprocess_prepostprocessor_get_input_info_by_index")
        pppTensorInfo = try symbol("ov_preprocess_input_info_get_tensor_info")
        pppSetElementType = try symbol("ov_preprocess_input_tensor_info_set_element_type")
        pppBuild = try symbol("ov_preprocess_prepostprocessor_build")
        pppFree = try symbol("ov_preprocess_prepostprocessor_free")
        pppInputInfoFree = try symbol("ov_preprocess_input_info_free")
        pppTensorInfoFree = try symbol("ov_preprocess_input_tensor_info_free")
        compiledFree = try symbol("ov_compiled_model_free")
        compiledProperty = try symbol("ov_compiled_model_get_property")
        compiledInputsSize = try symbol("ov_compiled_model_inputs_size")
        compiledInput = try symbol("ov_compiled_model_input_by_index")
        compiledOutputsSize = try symbol("ov_compiled_model_outputs_size")
        compiledOutput = try symbol("ov_compiled_model_output_by_index")
        createRequest = try symbol("ov_compiled_model_create_infer_request")
        requestFree = try symbol("ov_infer_request_free")
        requestInput = try symbol("ov_infer_request_get_input_tensor_by_index")
        requestOutput = try symbol("ov_infer_request_get_output_tensor_by_index")
        requestInfer = try symbol("ov_infer_request_infer")
        requestStart = try symbol("ov_infer_request_start_async")
        requestWait = try symbol("ov_infer_request_wait")
        requestSetCallback = try symbol("ov_infer_request_set_callback")
        tensorData = try symbol("ov_tensor_data")
        tensorByteSize = try symbol("ov_tensor_get_byte_size")
        tensorShape = try symbol("ov_tensor_get_shape")
        tensorSetShape = try symbol("ov_tensor_set_shape")
        shapeFree = try symbol("ov_shape_free")
        tensorFree = try symbol("ov_tensor_free")

        let getVersion: ei_fn_get_version = try symbol("ov_get_openvino_version")
        let freeVersion: ei_fn_version_free = try symbol("ov_version_free")
        var info = ei_ov_version()
        if getVersion(&info) == 0, let build = info.build_number {
            version = String(cString: build)
            freeVersion(&info)
        } else {
            version = "unknown"
        }
    }

    /// The last error OpenVINO recorded on this thread, cut to its informative lines.
    func errorMessage(status: Int32) -> String {
        guard let raw = lastError() else { return "OpenVINO status \(status)" }
        let lines = String(cString: raw).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        // OpenVINO prefixes messages with source locations ("Exception from src/…:123:"): drop those.
        let useful = lines.filter { !$0.isEmpty && !$0.hasPrefix("Exception from") && !$0.hasPrefix("Check '") }
        let text = (useful.isEmpty ? lines : useful).joined(separator: "; ")
        let clipped = text.count > 400 ? String(text.prefix(400)) + "…" : text
        return clipped.isEmpty ? "OpenVINO status \(status)" : clipped
    }

    /// Takes a string OpenVINO allocated, copying it and freeing the original.
    func takeString(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        defer { freeString(pointer) }
        return String(cString: pointer)
    }

    // MARK: - Discovery

    /// Finds `libopenvino_c.so.<version>`: `$EDGEINSIGHT_OPENVINO`, then `.deps/openvino` beside the
    /// working directory or the executable, then an importable `openvino` Python package.
    static func locate() throws(EngineError) -> String {
        let environment = ProcessInfo.processInfo.environment
        if let folder = environment["EDGEINSIGHT_OPENVINO"], !folder.isEmpty {
            // An explicit choice is final: falling back elsewhere would hide a typo.
            guard let library = library(in: folder) else {
                throw .openVINONotFound(searched: ["EDGEINSIGHT_OPENVINO=\(folder)"])
            }
            return library
        }
        var searched: [String] = []
        for root in ProjectFolders.roots() {
            let folder = root + "/.deps/openvino"
            if searched.contains(folder) { continue }
            searched.append(folder)
            if let library = library(in: folder) { return library }
        }
        if let folder = pythonPackageFolder() {
            searched.append(folder)
            if let library = library(in: folder) { return library }
        } else {
            searched.append("python3 -c 'import openvino'")
        }
        throw .openVINONotFound(searched: searched)
    }

    /// The versioned C library in a folder, its `libs/` or its `openvino/libs/`.
    static func library(in folder: String) -> String? {
        let manager = FileManager.default
        for candidate in [folder, folder + "/libs", folder + "/openvino/libs"] {
            guard let names = try? manager.contentsOfDirectory(atPath: candidate) else { continue }
            let matches = names.filter { $0.hasPrefix("libopenvino_c.so") }.sorted()
            // Prefer a versioned name; an unversioned symlink (system installs) also works.
            if let name = matches.last { return candidate + "/" + name }
        }
        return nil
    }

    /// The working directory and every ancestor of the running executable.
    private static func pythonPackageFolder() -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import os, openvino; print(os.path.dirname(openvino.__file__))"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let folder = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return folder.isEmpty ? nil : folder
    }
}
