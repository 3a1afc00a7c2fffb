//! gateway: Gateway API CRDs, the gateway namespace, GatewayClass and LoadBalancerConfiguration for the AWS Load Balancer Controller, the Gateway, redirect route, NetworkPolicy.

use super::{Phase, check};
use crate::cli::PhaseName;

check!(
    EKS_CLUSTER_ACTIVE,
    "aws-eks-cluster-active",
    "the EKS cluster is ACTIVE and its version supported",
    "check the cluster in the EKS console or `aws eks describe-cluster`; wait for an update to finish"
);
check!(
    ACM_CERTIFICATE_ISSUED,
    "aws-acm-certificate-issued",
    "the ACM certificate is ISSUED, covers every listener hostname and is valid for 30+ days",
    "finish DNS validation (`aws acm describe-certificate`) or request a certificate covering the hostnames"
);
check!(
    ROUTE53_ZONE_PRESENT,
    "aws-route53-zone-present",
    "the Route53 hosted zone exists",
    "create the hosted zone or fix hostedZone in tacos.yaml"
);
check!(
    AWS_LBC_RUNNING,
    "cluster-aws-lbc-running",
    "the AWS Load Balancer Controller runs in the cluster",
    "install the AWS Load Balancer Controller (v2.13+ with gateway support) in kube-system"
);
check!(
    GATEWAY_PROGRAMMED,
    "gateway-programmed",
    "the Gateway is Accepted and Programmed with an address",
    "read the Gateway's conditions (kubectl describe gateway) and the AWS Load Balancer Controller's log"
);
check!(
    ALB_EXISTS,
    "aws-alb-exists",
    "the Gateway's ALB exists in elbv2",
    "check the AWS Load Balancer Controller's log for errors creating the ALB"
);
check!(
    DNS_ALIASES_ALB,
    "aws-route53-alias",
    "Route53 records for api. and argocd. alias the Gateway's ALB",
    "create or fix the alias records (ExternalDNS, or the hosted zone by hand)"
);

pub const PHASE: Phase = Phase {
    name: PhaseName::Gateway,
    summary: "Gateway API CRDs and the public ALB Gateway for api. and argocd.",
    folders: &["manifests/gateway"],
    upstream: &["Gateway API CRDs, standard channel (pinned release)"],
    depends_on: None,
    preflight: &[
        EKS_CLUSTER_ACTIVE,
        ACM_CERTIFICATE_ISSUED,
        ROUTE53_ZONE_PRESENT,
        AWS_LBC_RUNNING,
    ],
    waits_for: "CRDs Established; Gateway Accepted and Programmed with an address; routes Accepted",
    postflight: &[GATEWAY_PROGRAMMED, ALB_EXISTS, DNS_ALIASES_ALB],
    not_waited: &[],
};
