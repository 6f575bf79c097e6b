export type { EndpointChallengeAnswerValue } from "./endpoint-challenge.js";
export {
  ChallengeToken,
  challengeFailure,
  challengeTokenOf,
  challengeUrl,
  ENDPOINT_CHALLENGE_PATH,
  EndpointChallengeAnswer,
  MAX_CHALLENGE_ANSWER_BYTES,
} from "./endpoint-challenge.js";
