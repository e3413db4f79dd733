export { BrokenLink, brokenLinks, markdownFiles, relativeLinks } from './links';
