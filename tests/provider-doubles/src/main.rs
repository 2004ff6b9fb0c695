//! `provider-doubles`: serve the Gemini, Kling and ElevenLabs doubles until killed; prints one
//! `<provider> <url>` line per double on stdout.

use std::net::{IpAddr, SocketAddr};

use clap::Parser;
use provider_doubles::*;

/// Faithful local Gemini, Kling and ElevenLabs APIs for end-to-end runs.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port of the Gemini double (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    gemini_port: u16,
    /// Port of the Kling double (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    kling_port: u16,
    /// Port of the ElevenLabs double (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    elevenlabs_port: u16,
    /// The Gemini API key to accept.
    #[arg(long, env = "GEMINI_DOUBLE_KEY", default_value = "gemini-double-key")]
    gemini_key: String,
    /// Gemini generate requests per minute (0: no limit).
    #[arg(long, default_value_t = 0)]
    gemini_rpm: u32,
    /// The Kling access key (JWT `iss`).
    #[arg(
        long,
        env = "KLING_DOUBLE_ACCESS_KEY",
        default_value = "kling-double-access"
    )]
    kling_access_key: String,
    /// The Kling secret key (JWT signature).
    #[arg(
        long,
        env = "KLING_DOUBLE_SECRET_KEY",
        default_value = "kling-double-secret"
    )]
    kling_secret_key: String,
    /// A Kling console API key also accepted as the bearer token.
    #[arg(long, env = "KLING_DOUBLE_API_KEY")]
    kling_api_key: Option<String>,
    /// Unfinished Kling tasks allowed at once.
    #[arg(long, default_value_t = 3)]
    kling_max_running: usize,
    /// Polls a Kling task answers `submitted`.
    #[arg(long, default_value_t = 1)]
    kling_polls_submitted: u32,
    /// Polls a Kling task answers `processing`.
    #[arg(long, default_value_t = 2)]
    kling_polls_processing: u32,
    /// The ElevenLabs key to accept.
    #[arg(
        long,
        env = "ELEVENLABS_DOUBLE_KEY",
        default_value = "elevenlabs-double-key"
    )]
    elevenlabs_key: String,
    /// ElevenLabs requests generating at once.
    #[arg(long, default_value_t = 2)]
    elevenlabs_concurrency: usize,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let a = Args::parse();
    let mut gemini = GeminiConfig::default()
        .api_key(&a.gemini_key)
        .bind(SocketAddr::new(a.host, a.gemini_port));
    if a.gemini_rpm > 0 {
        gemini = gemini.requests_per_minute(a.gemini_rpm);
    }
    let mut kling = KlingConfig::default()
        .keys(&a.kling_access_key, &a.kling_secret_key)
        .max_running(a.kling_max_running)
        .polls(a.kling_polls_submitted, a.kling_polls_processing)
        .bind(SocketAddr::new(a.host, a.kling_port));
    if let Some(k) = &a.kling_api_key {
        kling = kling.api_key(k);
    }
    let eleven = ElevenLabsConfig::default()
        .api_key(&a.elevenlabs_key)
        .max_concurrent(a.elevenlabs_concurrency)
        .bind(SocketAddr::new(a.host, a.elevenlabs_port));
    let gemini = GeminiDouble::start(gemini).await?;
    let kling = KlingDouble::start(kling).await?;
    let eleven = ElevenLabsDouble::start(eleven).await?;
    println!("gemini {}", gemini.url());
    println!("kling {}", kling.url());
    println!("elevenlabs {}", eleven.url());
    eprintln!("provider-doubles: serving (control routes under /__control); Ctrl-C stops");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
