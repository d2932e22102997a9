#include "test_server.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

extern char** environ;

namespace paysig::testing {
namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "test server: %s\n", message.c_str());
  std::abort();
}

std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

std::string RepoRoot() { return Env("PAYSIG_REPO", PAYSIG_REPO); }

TestServer::TestServer(const std::string& config) {
  const std::string python = Env("PAYSIG_PYTHON", PAYSIG_PYTHON);
  const std::string config_path = config.rfind('/', 0) == 0 ? config : RepoRoot() + "/" + config;
  std::vector<std::string> args = {python, "-m", "paysig", "serve", "--config", config_path,
                                   "--listen", "127.0.0.1:0", "--grace", "5"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);  // audit lines
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  int rc = posix_spawn(&pid_, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) Die("cannot run " + python + ": run `make test` (or set PAYSIG_PYTHON)");
  stderr_fd_ = fds[0];

  std::string line;
  char c;
  while (read(stderr_fd_, &c, 1) == 1 && c != '\n') line += c;
  google::protobuf::Struct serving;
  if (!google::protobuf::util::JsonStringToMessage(line, &serving).ok() ||
      serving.fields().count("address") == 0) {
    Die("unexpected first server line: " + line);
  }
  address_ = serving.fields().at("address").string_value();
  drain_ = std::thread([fd = stderr_fd_] {
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
  });
}

int TestServer::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
  }
  if (drain_.joinable()) drain_.join();
  if (stderr_fd_ >= 0) close(stderr_fd_);
  stderr_fd_ = -1;
  return exit_status_;
}

TestServer::~TestServer() { Stop(); }

}  // namespace paysig::testing
