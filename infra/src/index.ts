export { S3_CREDENTIALS, S3_REGION, SERVICE_NAMES, resolveConfig, type LocalConfig, type ServiceName } from './config';
export { LocalServiceError, type LocalServiceErrorCode } from './errors';
export { localServicesStatus, startLocalServices, stopLocalServices, type LocalServices, type LocalServicesOptions, type StopResult } from './local-services';
export { kafkaAnswers, localKafkaTls, type LocalKafkaTls } from './kafka';
export { writeTlsFiles, type TlsFiles } from './tls';
export { localS3Config, s3Answers, type LocalS3Config } from './s3proxy';
export type { ServiceStatus } from './service';
export { startSuiteServices, stopSuiteServices, suiteConfig, type SuiteDefaults } from './suite-services';
