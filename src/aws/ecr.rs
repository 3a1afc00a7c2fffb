//! ECR: where an image reference points, whether its repository is scanned, and what the latest scan of the image found.

use aws_sdk_ecr::types::{ImageIdentifier, ScanStatus, ScanType};

use super::{AwsContext, AwsError};
use crate::config::ScanSeverity;

/// An image reference that names an ECR repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrImage {
    pub registry_id: String,
    pub region: String,
    pub repository: String,
    pub reference: ImageReference,
}

/// How an image reference picks its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageReference {
    Digest(String),
    Tag(String),
    /// No tag and no digest: whatever `latest` is at pull time.
    Unpinned,
}

impl EcrImage {
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG][@sha256:...]`; None for any other registry.
    pub fn parse(image: &str) -> Option<EcrImage> {
        let (host, path) = image.split_once('/')?;
        let mut labels = host.split('.');
        let registry_id = labels.next()?;
        if labels.next()? != "dkr" || labels.next()? != "ecr" {
            return None;
        }
        let region = labels.next()?;
        if !host.ends_with(".amazonaws.com") && !host.ends_with(".amazonaws.com.cn") {
            return None;
        }
        let (name_and_tag, digest) = match path.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (path, None),
        };
        let (repository, tag) = match name_and_tag.rsplit_once(':') {
            Some((repository, tag)) => (repository, Some(tag)),
            None => (name_and_tag, None),
        };
        let reference = match (digest, tag) {
            (Some(digest), _) => ImageReference::Digest(digest.to_string()),
            (None, Some(tag)) if tag != "latest" => ImageReference::Tag(tag.to_string()),
            _ => ImageReference::Unpinned,
        };
        Some(EcrImage {
            registry_id: registry_id.to_string(),
            region: region.to_string(),
            repository: repository.to_string(),
            reference,
        })
    }

    fn identifier(&self) -> ImageIdentifier {
        match &self.reference {
            ImageReference::Digest(digest) => ImageIdentifier::builder().image_digest(digest),
            ImageReference::Tag(tag) => ImageIdentifier::builder().image_tag(tag),
            ImageReference::Unpinned => ImageIdentifier::builder().image_tag("latest"),
        }
        .build()
    }
}

/// Whether images pushed to a repository are scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryScanning {
    Missing,
    /// Basic scanning on push is on for the repository.
    OnPush,
    /// The registry's enhanced scanning (Amazon Inspector) covers the repository.
    Enhanced,
    Off,
}

/// What the latest scan of an image says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutcome {
    RepositoryMissing,
    ImageMissing,
    NeverScanned,
    /// The scan has not completed (IN_PROGRESS, FAILED, UNSUPPORTED_IMAGE, ...), with ECR's words.
    Incomplete {
        status: String,
        description: String,
    },
    Complete(Vec<Vulnerability>),
}

/// One finding of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vulnerability {
    /// The CVE (or other advisory) id.
    pub id: String,
    /// None when ECR gives UNDEFINED or UNTRIAGED.
    pub severity: Option<ScanSeverity>,
    pub severity_text: String,
    /// `name version` of the vulnerable package, when the scan names it.
    pub package: Option<String>,
}

fn client_for(aws: &AwsContext, region: &str) -> aws_sdk_ecr::Client {
    let config = aws_sdk_ecr::config::Builder::from(&aws.config)
        .region(aws_config::Region::new(region.to_string()))
        .build();
    aws_sdk_ecr::Client::from_conf(config)
}

/// Whether `image`'s repository is scanned: basic scan-on-push, or the registry's enhanced
/// scanning with a rule whose filter matches the repository.
pub async fn repository_scanning(
    aws: &AwsContext,
    image: &EcrImage,
) -> Result<RepositoryScanning, AwsError> {
    let ecr = client_for(aws, &image.region);
    let what = format!("describe ECR repository {}", image.repository);
    let repository = match ecr
        .describe_repositories()
        .registry_id(&image.registry_id)
        .repository_names(&image.repository)
        .send()
        .await
    {
        Ok(output) => output.repositories.unwrap_or_default().into_iter().next(),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_repository_not_found_exception()) =>
        {
            None
        }
        Err(error) => return Err(aws.unreachable(&what, &error)),
    };
    let Some(repository) = repository else {
        return Ok(RepositoryScanning::Missing);
    };
    let registry = ecr
        .get_registry_scanning_configuration()
        .send()
        .await
        .map_err(|e| aws.unreachable("read the ECR registry's scanning configuration", &e))?;
    let enhanced = registry.scanning_configuration.is_some_and(|config| {
        config.scan_type == Some(ScanType::Enhanced)
            && config.rules().iter().any(|rule| {
                rule.repository_filters
                    .iter()
                    .any(|f| wildcard_matches(&f.filter, &image.repository))
            })
    });
    Ok(if enhanced {
        RepositoryScanning::Enhanced
    } else if repository
        .image_scanning_configuration
        .is_some_and(|c| c.scan_on_push)
    {
        RepositoryScanning::OnPush
    } else {
        RepositoryScanning::Off
    })
}

/// ECR's repository filters: `*` matches any run of characters.
fn wildcard_matches(filter: &str, name: &str) -> bool {
    let mut parts = filter.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Whether the image a pull asks for is in its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagePresence {
    RepositoryMissing,
    /// The tag (or digest) is not in the repository; its newest tags, newest first (at most
    /// [`NEWEST_TAGS`]).
    ImageMissing {
        newest_tags: Vec<String>,
    },
    /// The image is there, as `sha256:...`, pushed at (RFC 3339) when ECR says.
    Present {
        digest: String,
        pushed_at: Option<String>,
    },
}

/// How many of a repository's newest tags [`image_presence`] names when the one asked for is missing.
pub const NEWEST_TAGS: usize = 3;

/// Whether `image` is in ECR (ecr:DescribeImages): what a node's pull of it would find.
pub async fn image_presence(aws: &AwsContext, image: &EcrImage) -> Result<ImagePresence, AwsError> {
    let ecr = client_for(aws, &image.region);
    let what = format!("describe the images of ECR repository {}", image.repository);
    match ecr
        .describe_images()
        .registry_id(&image.registry_id)
        .repository_name(&image.repository)
        .image_ids(image.identifier())
        .send()
        .await
    {
        Ok(output) => match output.image_details().first() {
            Some(detail) => Ok(ImagePresence::Present {
                digest: detail.image_digest.clone().unwrap_or_default(),
                pushed_at: detail.image_pushed_at.map(|at| at.to_string()),
            }),
            None => Ok(ImagePresence::ImageMissing {
                newest_tags: newest_tags(&ecr, image)
                    .await
                    .map_err(|e| aws.unreachable(&what, &e))?,
            }),
        },
        Err(error) => match error.as_service_error() {
            Some(e) if e.is_repository_not_found_exception() => {
                Ok(ImagePresence::RepositoryMissing)
            }
            Some(e) if e.is_image_not_found_exception() => Ok(ImagePresence::ImageMissing {
                newest_tags: newest_tags(&ecr, image)
                    .await
                    .map_err(|e| aws.unreachable(&what, &e))?,
            }),
            _ => Err(aws.unreachable(&what, &error)),
        },
    }
}

/// The repository's newest tags, newest push first, one per image.
async fn newest_tags(
    ecr: &aws_sdk_ecr::Client,
    image: &EcrImage,
) -> Result<
    Vec<String>,
    aws_sdk_ecr::error::SdkError<aws_sdk_ecr::operation::describe_images::DescribeImagesError>,
> {
    let mut tagged: Vec<(aws_sdk_ecr::primitives::DateTime, String)> = Vec::new();
    let mut pages = ecr
        .describe_images()
        .registry_id(&image.registry_id)
        .repository_name(&image.repository)
        .filter(
            aws_sdk_ecr::types::DescribeImagesFilter::builder()
                .tag_status(aws_sdk_ecr::types::TagStatus::Tagged)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for detail in page?.image_details() {
            if let (Some(at), Some(tag)) = (detail.image_pushed_at, detail.image_tags().first()) {
                tagged.push((at, tag.clone()));
            }
        }
    }
    tagged.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(tagged
        .into_iter()
        .take(NEWEST_TAGS)
        .map(|(_, tag)| tag)
        .collect())
}

/// Every finding of the latest scan of `image` (basic and enhanced), page by page.
pub async fn latest_scan(aws: &AwsContext, image: &EcrImage) -> Result<ScanOutcome, AwsError> {
    let ecr = client_for(aws, &image.region);
    let what = format!("read the scan findings of ECR image {}", image.repository);
    let mut vulnerabilities = Vec::new();
    let mut token = None;
    loop {
        let output = match ecr
            .describe_image_scan_findings()
            .registry_id(&image.registry_id)
            .repository_name(&image.repository)
            .image_id(image.identifier())
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return match error.as_service_error() {
                    Some(e) if e.is_repository_not_found_exception() => {
                        Ok(ScanOutcome::RepositoryMissing)
                    }
                    Some(e) if e.is_image_not_found_exception() => Ok(ScanOutcome::ImageMissing),
                    Some(e) if e.is_scan_not_found_exception() => Ok(ScanOutcome::NeverScanned),
                    _ => Err(aws.unreachable(&what, &error)),
                };
            }
        };
        let status = output.image_scan_status.as_ref();
        if status.and_then(|s| s.status.as_ref()) != Some(&ScanStatus::Complete) {
            return Ok(ScanOutcome::Incomplete {
                status: status
                    .and_then(|s| s.status.as_ref())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "UNKNOWN".into()),
                description: status
                    .and_then(|s| s.description.clone())
                    .unwrap_or_default(),
            });
        }
        if let Some(findings) = &output.image_scan_findings {
            vulnerabilities.extend(findings.findings().iter().map(|finding| {
                let attribute = |key: &str| {
                    finding
                        .attributes()
                        .iter()
                        .find(|a| a.key == key)
                        .and_then(|a| a.value.clone())
                };
                let severity_text = finding
                    .severity
                    .as_ref()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "UNDEFINED".into());
                Vulnerability {
                    id: finding.name.clone().unwrap_or_else(|| "(unnamed)".into()),
                    severity: ScanSeverity::parse(&severity_text),
                    severity_text,
                    package: attribute("package_name").map(|name| {
                        match attribute("package_version") {
                            Some(version) => format!("{name} {version}"),
                            None => name,
                        }
                    }),
                }
            }));
            vulnerabilities.extend(findings.enhanced_findings().iter().map(|finding| {
                let details = finding.package_vulnerability_details.as_ref();
                let severity_text = finding
                    .severity
                    .clone()
                    .unwrap_or_else(|| "UNDEFINED".into());
                Vulnerability {
                    id: details
                        .and_then(|d| d.vulnerability_id.clone())
                        .or_else(|| finding.title.clone())
                        .unwrap_or_else(|| "(unnamed)".into()),
                    severity: ScanSeverity::parse(&severity_text),
                    severity_text,
                    package: details
                        .and_then(|d| d.vulnerable_packages().first())
                        .and_then(|p| {
                            let name = p.name.clone()?;
                            Some(match &p.version {
                                Some(version) => format!("{name} {version}"),
                                None => name,
                            })
                        }),
                }
            }));
        }
        match output.next_token {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(ScanOutcome::Complete(vulnerabilities)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_references_are_parsed_and_others_are_not() {
        let image = EcrImage::parse(
            "137406935518.dkr.ecr.ap-northeast-2.amazonaws.com/traffic-tacos-gateway-api:v1.4.2",
        )
        .unwrap();
        assert_eq!(image.registry_id, "137406935518");
        assert_eq!(image.region, "ap-northeast-2");
        assert_eq!(image.repository, "traffic-tacos-gateway-api");
        assert_eq!(image.reference, ImageReference::Tag("v1.4.2".into()));
        let pinned =
            EcrImage::parse("1.dkr.ecr.us-east-1.amazonaws.com/team/app:v1@sha256:abc").unwrap();
        assert_eq!(pinned.repository, "team/app");
        assert_eq!(
            pinned.reference,
            ImageReference::Digest("sha256:abc".into())
        );
        for unpinned in [
            "1.dkr.ecr.us-east-1.amazonaws.com/app",
            "1.dkr.ecr.us-east-1.amazonaws.com/app:latest",
        ] {
            assert_eq!(
                EcrImage::parse(unpinned).unwrap().reference,
                ImageReference::Unpinned
            );
        }
        assert_eq!(EcrImage::parse("docker.io/library/redis:7"), None);
        assert_eq!(EcrImage::parse("redis:7"), None);
        assert_eq!(EcrImage::parse("public.ecr.aws/nginx/nginx:1"), None);
    }

    #[test]
    fn repository_filters_match_like_ecr_wildcards() {
        assert!(wildcard_matches("*", "traffic-tacos-gateway-api"));
        assert!(wildcard_matches(
            "traffic-tacos-*",
            "traffic-tacos-gateway-api"
        ));
        assert!(wildcard_matches("*-api", "traffic-tacos-gateway-api"));
        assert!(wildcard_matches(
            "traffic-*-api",
            "traffic-tacos-gateway-api"
        ));
        assert!(wildcard_matches(
            "traffic-tacos-gateway-api",
            "traffic-tacos-gateway-api"
        ));
        assert!(!wildcard_matches("other-*", "traffic-tacos-gateway-api"));
        assert!(!wildcard_matches(
            "traffic-tacos",
            "traffic-tacos-gateway-api"
        ));
        assert!(!wildcard_matches("*-worker", "traffic-tacos-gateway-api"));
    }
}
