public import HTTP
public import Logging

extension CredentialChain {
    /// The providers the AWS SDKs ask, in their order, for a process that can reach STS over `http`:
    ///
    /// 1. `environment` — `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`;
    /// 2. `web-identity` — `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (EKS);
    /// 3. the shared files for `profile` (else `AWS_PROFILE`, else `default`): `assume-role`
    ///    (`role_arn` + `source_profile`), then `shared-files` (static keys), then `process`
    ///    (`credential_process`). The role comes first because a role profile may carry static
    ///    keys of its own to source itself with; those must not be used as the answer;
    /// 4. `ecs-container` (ECS task roles, EKS Pod Identity), then `ec2-instance-metadata` (IMDSv2).
    static func defaultProviders(environment: Environment, profile: String? = nil, http: any HTTPClient) -> [any CredentialProvider] {
        [
            EnvironmentCredentialProvider(environment: environment),
            WebIdentityCredentialProvider(environment: environment, http: http),
            ProfileRoleCredentialProvider(environment: environment, profile: profile, http: http),
            SharedFilesCredentialProvider(environment: environment, profile: profile),
            ProcessCredentialProvider(environment: environment, profile: profile),
            // After every configured source, as in the SDKs: the container, then the instance.
            ContainerCredentialProvider(http: http, environment: environment),
            InstanceMetadataCredentialProvider(http: http, environment: environment),
        ]
    }

    /// The chain the AWS SDKs would use for this environment and profile, with STS and the
    /// metadata services reached over `http`.
    public static func `default`(environment: Environment, profile: String? = nil, http: any HTTPClient, logger: Logger) -> CredentialChain {
        CredentialChain(providers: defaultProviders(environment: environment, profile: profile, http: http), logger: logger)
    }
}
