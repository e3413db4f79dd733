export { describeMachine, machineLine, MachineInfo } from './machine';
export { quantile, summarize, Summary, timeRuns } from './stats';
export { formatNumber, markdownTable, upsertSection, Cell } from './report';
