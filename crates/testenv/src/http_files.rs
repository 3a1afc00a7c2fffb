//! A folder served over plain HTTP on 127.0.0.1 (GET only), as a Helm chart repository is: for tests of fetching pinned material from its publisher.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{Result, io_err};

/// Serves the files of a folder until dropped.
pub struct FileServer {
    pub url: String,
    handle: tokio::task::JoinHandle<()>,
}

impl FileServer {
    pub async fn serve(dir: &Path) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io_err("listen on 127.0.0.1"))?;
        let port = listener
            .local_addr()
            .map_err(io_err("read the listening address"))?
            .port();
        let root = dir.to_path_buf();
        let handle = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let root = root.clone();
                tokio::spawn(async move {
                    let mut request = vec![0u8; 8192];
                    let Ok(read) = stream.read(&mut request).await else {
                        return;
                    };
                    let text = String::from_utf8_lossy(&request[..read]).to_string();
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let response = respond(&root, &path);
                    let _ = stream.write_all(&response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            handle,
        })
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

fn respond(root: &Path, path: &str) -> Vec<u8> {
    let relative: PathBuf = path
        .trim_start_matches('/')
        .split('/')
        .filter(|part| !part.is_empty() && *part != "..")
        .collect();
    match std::fs::read(root.join(relative)) {
        Ok(body) => {
            let mut response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            response.extend(body);
            response
        }
        Err(_) => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    }
}
