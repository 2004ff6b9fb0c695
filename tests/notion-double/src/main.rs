//! `notion-double`: serve the in-memory Notion API until killed; prints the base URL first.

use clap::Parser;
use notion_double::{DoubleConfig, NotionDouble, RateLimit};

/// A faithful in-memory Notion API for tests and scripts.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// The integration token to accept.
    #[arg(
        long,
        env = "NOTION_DOUBLE_TOKEN",
        default_value = "ntn_double_test_token"
    )]
    token: String,
    /// Average requests per second (0 switches the rate limit off).
    #[arg(long, default_value_t = 3.0)]
    rate: f64,
    /// Burst allowed by the rate limit.
    #[arg(long, default_value_t = 3)]
    burst: u32,
    /// Per-file upload limit in bytes (5 MiB = free workspace).
    #[arg(long, default_value_t = notion_double::FREE_UPLOAD_LIMIT)]
    upload_limit: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let config = DoubleConfig {
        token: args.token,
        rate_limit: (args.rate > 0.0).then_some(RateLimit {
            per_second: args.rate,
            burst: args.burst,
        }),
        upload_limit: args.upload_limit,
        bind: std::net::SocketAddr::new(args.host, args.port),
        ..DoubleConfig::default()
    };
    let double = NotionDouble::start(config).await?;
    println!("{}", double.url());
    eprintln!(
        "notion-double: serving {} (control routes under /__control)",
        double.url()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
