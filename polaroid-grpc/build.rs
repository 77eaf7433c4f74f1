use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // protoc comes from the protoc-bin-vendored crate, so a fresh machine
    // needs no install step; an explicit PROTOC still wins.
    if std::env::var_os("PROTOC").is_none() {
        std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        // For gRPC server reflection.
        .file_descriptor_set_path(out.join("polaroid_descriptor.bin"))
        // Bulk Arrow bytes as `Bytes`: decoding slices the receive buffer
        // instead of copying every message into a fresh Vec.
        // Fetch's message is hand-encoded (src/wire.rs) so the server sends
        // an IPC header and body without joining them first.
        .extern_path(".polaroid.v1.IpcMessage", "crate::wire::IpcMessage")
        .bytes(".polaroid.v1.UploadChunk.data")
        // Shared, not copied: a handle's schema message is encoded once.
        .bytes(".polaroid.v1.HandleInfo.arrow_schema")
        .bytes(".polaroid.v1.PlanRequest.plan")
        .compile_protos(&["proto/polaroid/v1/polaroid.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
