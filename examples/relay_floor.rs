//! The least a tokio proxy can spend per transaction, for `benches/instructions.sh FLOOR=1`:
//! a current-thread runtime (as shardgate uses on two cores), one task per client, a server
//! connection of its own per client (no pooling, no parsing, no tracing, no metrics), one
//! `select!` over the two reads, bytes relayed as they come.
//!
//! Not a pooler and not part of shardgate: a yardstick. Its count is the floor any proxy built
//! on tokio's per-task futures starts from; what shardgate spends above it is its own work
//! (framing, routing, pooling, prepared statements, metrics), and what PgBouncer spends in
//! all shows how much room an event loop without futures has.
//!
//! Usage: `relay_floor <listen addr> <server addr>`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(server)) = (args.next(), args.next()) else {
        eprintln!("usage: relay_floor <listen addr> <server addr>");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(&listen).await?;
        loop {
            let (client, _) = listener.accept().await?;
            let server = server.clone();
            tokio::spawn(async move {
                if let Err(e) = relay(client, &server).await {
                    eprintln!("relay_floor: {e}");
                }
            });
        }
    })
}

async fn relay(mut client: TcpStream, server: &str) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let mut server = TcpStream::connect(server).await?;
    server.set_nodelay(true)?;
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            biased;
            r = server.read(&mut from_server) => match r? {
                0 => return Ok(()),
                n => client.write_all(from_server.get(..n).unwrap_or_default()).await?,
            },
            r = client.read(&mut from_client) => match r? {
                0 => return Ok(()),
                n => server.write_all(from_client.get(..n).unwrap_or_default()).await?,
            },
        }
    }
}
