#include "ledger/ledger_env.h"
#include "ledger/process_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>

#include "ledger/data_file_check.h"

namespace artana::kernel::ledger {
namespace {

// LMDB forbids opening one environment twice in a process (its locks are per process).
std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& open_dirs() {
  static std::set<std::string> dirs;
  return dirs;
}

// Filesystems whose locking LMDB cannot rely on (lmdb.h: "Do not use LMDB databases on
// remote filesystems").
const char* remote_filesystem_name(long type) {
  switch (static_cast<unsigned long>(type)) {
    case 0x6969:
      return "NFS";
    case 0x517B:
      return "SMB";
    case 0xFF534D42:
      return "CIFS";
    case 0xFE534D42:
      return "SMB2";
    case 0x5346414F:
      return "AFS";
    case 0x73757245:
      return "Coda";
    case 0x564C:
      return "NCP";
    default:
      return nullptr;
  }
}

Status make_dir(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return Status();
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return Status();
  return lmdb_status(errno, "creating the data directory", dir);
}

// The most a writer's map should start at: the file plus the filesystem's free space. In
// `none` LMDB sizes the file to the map (sparse), and a 1 GiB file on a 3 MiB disk is one
// that can never be; the map doubles when it fills (LedgerEnv::grow_map).
uint64_t room_for_map(const std::string& dir, const std::string& data_path) {
  struct statvfs fs;
  if (::statvfs(dir.c_str(), &fs) != 0) return UINT64_MAX;
  struct stat st;
  const uint64_t file = ::stat(data_path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return file + static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

// Why mdb_env_open failed, naming the file at fault: LMDB opens lock.mdb before data.mdb and
// reports either one's errno alike, so a lock file that is a directory or not writable
// would otherwise be blamed on data.mdb.
Status open_failure(int rc, const std::string& dir, const std::string& data_path, bool read_only) {
  const std::string lock_path = dir + "/lock.mdb";
  struct stat st;
  if (::stat(lock_path.c_str(), &st) != 0) return lmdb_status(rc, "opening the ledger", data_path);
  if (!S_ISREG(st.st_mode)) {
    return lmdb_status(S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
                       "opening the lock file (move it away: it holds no data)", lock_path);
  }
  const int fd = ::open(lock_path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return lmdb_status(errno, "opening the lock file", lock_path);
  ::close(fd);
  return lmdb_status(rc, "opening the ledger", data_path);
}

}  // namespace

Result<std::unique_ptr<LedgerEnv>> LedgerEnv::open_in_child(const std::string& dir) {
  LmdbStoreOptions options;
  options.read_only = true;
  options.initial_map_bytes = 0;
  return open_env(dir, options, /*use_registry=*/false);
}

Result<std::unique_ptr<LedgerEnv>> LedgerEnv::open(const std::string& dir,
                                                   const LmdbStoreOptions& options) {
  return open_env(dir, options, /*use_registry=*/true);
}

Result<std::unique_ptr<LedgerEnv>> LedgerEnv::open_env(const std::string& dir,
                                                       const LmdbStoreOptions& options,
                                                       bool use_registry) {
  if (dir.empty()) return Status::invalid_argument("the data directory path is empty");
  if (!options.read_only) ARTANA_RETURN_IF_ERROR(make_dir(dir));
  std::error_code ec;
  std::string canonical = std::filesystem::canonical(dir, ec).string();
  if (ec) return lmdb_status(ec.value(), "resolving the data directory", dir);
  struct statfs fs;
  if (::statfs(canonical.c_str(), &fs) == 0) {
    if (const char* name = remote_filesystem_name(static_cast<long>(fs.f_type))) {
      return Status::failed_precondition(
          "data directory {} is on {}: LMDB's locks do not work on network filesystems; use a "
          "local disk (or the PostgreSQL store for shared ledgers)",
          canonical, name);
    }
  }

  std::unique_ptr<LedgerEnv> self(new LedgerEnv());
  self->dir_ = canonical;
  self->data_path_ = canonical + "/data.mdb";
  self->read_only_ = options.read_only;
  if (use_registry) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    self->registered_ = true;
    if (!open_dirs().insert(canonical).second) {
      self->registered_ = false;
      return Status::failed_precondition(
          "ledger {} is already open in this process; share the one EventStore", canonical);
    }
  }

  ARTANA_RETURN_IF_ERROR(check_data_file(self->data_path_));
  int rc = mdb_env_create(&self->env_);
  if (rc != 0) return lmdb_status(rc, "creating the LMDB environment", canonical);
  mdb_env_set_maxdbs(self->env_, 16);
  mdb_env_set_maxreaders(self->env_, 512);
  long page = sysconf(_SC_PAGESIZE);
  if (options.initial_map_bytes > 0) {  // 0: whatever size the ledger was last given
    uint64_t map = std::max<uint64_t>(
        std::min(options.initial_map_bytes, room_for_map(canonical, self->data_path_)), 64 * 1024);
    map = (map + page - 1) / page * page;
    mdb_env_set_mapsize(self->env_, map);
  }

  unsigned flags = MDB_NOTLS;  // read txns may move between threads (the scheduler's fibers)
  switch (options.durability) {
    case Durability::kFull:
      break;
    case Durability::kEffects:
      flags |= MDB_NOMETASYNC;
      break;
    case Durability::kNone:
      // Nothing is synced, so a commit can be plain stores into the map (no write syscalls).
      // FileSpace keeps the blocks under those stores allocated (no SIGBUS on a full disk).
      flags |= MDB_NOSYNC | MDB_WRITEMAP;
      break;
  }
  const bool writemap = (flags & MDB_WRITEMAP) != 0 && !options.read_only;
  if (options.read_only) flags &= ~MDB_WRITEMAP;
  if (options.read_only) flags |= MDB_RDONLY;
  rc = mdb_env_open(self->env_, canonical.c_str(), flags, 0600);
  if (rc != 0) return open_failure(rc, canonical, self->data_path_, options.read_only);
  // Index keys hold names (up to 400 bytes) whole; LMDB's default limit (511) takes them, a
  // liblmdb built with a smaller MDB_MAXKEYSIZE would refuse some appends midway.
  // Read after the open: with MDB_MAXKEYSIZE=0 the limit follows the page size, known only then.
  if (const int max_key = mdb_env_get_maxkeysize(self->env_);
      max_key < static_cast<int>(kMaxIndexKeyBytes)) {
    return Status::failed_precondition(
        "the LMDB library takes keys of at most {} bytes; the ledger's indexes need {} (build "
        "liblmdb with its default MDB_MAXKEYSIZE)",
        max_key, kMaxIndexKeyBytes);
  }
  // The lock file is created with the umask; make sure both files stay private.
  if (!options.read_only) {
    ::chmod(self->data_path_.c_str(), 0600);
    ::chmod((canonical + "/lock.mdb").c_str(), 0600);
  }
  self->space_ =
      std::make_unique<FileSpace>(writemap ? FileSpace::Mode::kMapped : FileSpace::Mode::kZeroFill);
  MDB_stat stat;
  if (mdb_env_stat(self->env_, &stat) == 0) self->page_bytes_ = stat.ms_psize;
  if (writemap) {
    self->warmer_ =
        std::make_unique<PageWarmer>(self->env_, self->page_bytes_, self->resize_guard_);
  }
  self->check_stale_readers();
  ARTANA_RETURN_IF_ERROR(self->open_databases());
  // Made now, not in a run's first step: who leases runs from here (read from /proc), and
  // the thread that warms the pages the commits will write.
  if (!options.read_only) (void)this_process();
  if (self->warmer_) self->warmer_->start();
  return self;
}

LedgerEnv::~LedgerEnv() {
  warmer_.reset();  // its thread stores into the map
  if (env_ != nullptr) mdb_env_close(env_);
  if (!registered_) return;
  std::lock_guard<std::mutex> lock(registry_mutex());
  open_dirs().erase(dir_);
}

Status LedgerEnv::open_databases() {
  ARTANA_ASSIGN_OR_RETURN(GuardedTxn txn, read_only_ ? begin_read() : begin_write());
  // Not reserve_space: nothing is warmed before a migration has rewritten what it needs.
  if (!read_only_)
    ARTANA_RETURN_IF_ERROR(space_->reserve(env_, page_bytes_, 64 * 1024, data_path_));
  unsigned create = read_only_ ? 0 : MDB_CREATE;
  struct Spec {
    const char* name;
    MDB_dbi* dbi;
    unsigned flags;
  };
  const Spec specs[] = {
      {"meta", &dbi_.meta, 0},
      {"run_ids", &dbi_.run_ids, 0},
      {"runs", &dbi_.runs, 0},
      {"log", &dbi_.log, 0},
      {"run_extents", &dbi_.run_extents, 0},
      {"tenant_runs", &dbi_.tenant_runs, MDB_DUPSORT | MDB_DUPFIXED},
      {"steps", &dbi_.steps, 0},
      {"latest", &dbi_.latest, 0},
      {"totals", &dbi_.totals, 0},
      {"blobs", &dbi_.blobs, 0},
      {"aux", &dbi_.aux, 0},
      {"summary_keys", &dbi_.summary_keys, 0},
      {"summary_order", &dbi_.summary_order, 0},
  };
  auto open_db = [&](const Spec& spec) -> Status {
    int rc = mdb_dbi_open(txn.get(), spec.name, spec.flags | create, spec.dbi);
    if (rc == MDB_NOTFOUND) {
      MDB_envinfo info;
      if (mdb_env_info(env_, &info) == 0 && info.me_last_txnid == 0) {
        return Status::not_found(
            "{} holds no ledger yet: nothing was ever committed to it (a create refused for "
            "lack of space leaves it so); the next command that writes initialises it",
            data_path_);
      }
      return Status::not_found("{} is not an Artana ledger (no '{}' database)", data_path_,
                               spec.name);
    }
    return lmdb_status(rc, "opening database " + std::string(spec.name), data_path_);
  };
  // The schema version first: an older or newer layout must not get this one's databases.
  ARTANA_RETURN_IF_ERROR(open_db(specs[0]));
  uint64_t migrate_from = 0;
  MDB_val key = to_val("schema_version"), val;
  int rc = mdb_get(txn.get(), dbi_.meta, &key, &val);
  if (rc == MDB_NOTFOUND && !read_only_) {
    std::string v;
    put_u64be(v, kSchemaVersion);
    MDB_val put = to_val(v);
    rc = mdb_put(txn.get(), dbi_.meta, &key, &put, 0);
    if (rc != 0) return lmdb_status(rc, "writing the schema version", data_path_);
  } else if (rc != 0) {
    return lmdb_status(rc, "reading the schema version", data_path_);
  } else if (val.mv_size != 8) {
    return Status::corruption("{}: the schema version key is damaged", data_path_);
  } else if (uint64_t version = get_u64be(from_val(val)); version > kSchemaVersion) {
    return Status::failed_precondition(
        "{} has ledger schema version {}, newer than this build understands ({}); upgrade artana",
        data_path_, version, kSchemaVersion);
  } else if (version < 2) {
    // Versions before 2 were never released.
    return Status::failed_precondition(
        "{} has ledger schema version {}, written by a pre-release build; this build reads "
        "version {} and has no migration for it: export it with that build, or start afresh",
        data_path_, version, kSchemaVersion);
  } else if (version < kSchemaVersion) {
    if (read_only_) {
      return Status::failed_precondition(
          "{} has ledger schema version {}; open it once with a writer (any artana command "
          "that writes, such as `artana status`) to migrate it to version {}",
          data_path_, version, kSchemaVersion);
    }
    migrate_from = version;
  }
  for (const Spec& spec : specs) {
    if (spec.dbi != &dbi_.meta) ARTANA_RETURN_IF_ERROR(open_db(spec));
  }
  if (migrate_from != 0) ARTANA_RETURN_IF_ERROR(migrate(txn.get(), migrate_from));
  // Committing (even a read transaction) is what keeps the database handles open.
  rc = txn.txn.commit();
  return lmdb_status(rc, "creating the ledger databases", data_path_);
}

Result<GuardedTxn> LedgerEnv::begin(unsigned flags) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    GuardedTxn scoped{std::shared_lock<std::shared_mutex>(resize_guard_), Txn()};
    MDB_txn* raw = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, flags, &raw);
    if (rc == 0) {
      lmdb_txn_begun();
      scoped.txn = Txn(raw);
      return scoped;
    }
    if (rc != MDB_MAP_RESIZED) return lmdb_status(rc, "beginning a transaction", data_path_);
    // Another process grew the map: adopt its size (needs no transaction active here).
    scoped.guard.unlock();
    std::unique_lock<std::shared_mutex> exclusive(resize_guard_);
    if (warmer_) warmer_->map_moved();
    rc = mdb_env_set_mapsize(env_, 0);
    if (rc != 0) return lmdb_status(rc, "adopting the grown map size", data_path_);
  }
  return Status::unavailable("{}: the map kept being resized by other processes", data_path_);
}

Result<GuardedTxn> LedgerEnv::begin_read() { return begin(MDB_RDONLY); }
Result<GuardedTxn> LedgerEnv::begin_write() {
  if (read_only_) return Status::failed_precondition("{} was opened read-only", data_path_);
  return begin(0);
}

Status LedgerEnv::grow_map() {
  std::unique_lock<std::shared_mutex> exclusive(resize_guard_);
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  size_t next = info.me_mapsize * 2;
  if (warmer_) warmer_->map_moved();
  int rc = mdb_env_set_mapsize(env_, next);
  return lmdb_status(rc, "growing the map to " + std::to_string(next) + " bytes", data_path_);
}

Status LedgerEnv::sync() {
  int rc = mdb_env_sync(env_, 1);
  return lmdb_status(rc, "syncing the ledger", data_path_);
}

Status LedgerEnv::reserve_space(uint64_t batch_bytes) {
  ARTANA_RETURN_IF_ERROR(space_->reserve(env_, page_bytes_, batch_bytes, data_path_));
  warm_ahead();
  return Status();
}

Status LedgerEnv::require_space(uint64_t bytes) {
  ARTANA_RETURN_IF_ERROR(space_->reserve(env_, page_bytes_, bytes, data_path_, /*required=*/true));
  warm_ahead();
  return Status();
}

void LedgerEnv::warm_ahead() {
  if (!warmer_) return;
  // As far ahead as this process has written since it opened the ledger, up to about a
  // thousand model steps: a process that appends a little (a replay, an operator command)
  // warms a little, instead of faulting in megabytes while its own reads fault in the log.
  constexpr uint64_t kWarmAheadBytes = 2 * 1024 * 1024;
  const uint64_t floor = space_->writer_floor();
  if (first_floor_ == 0) first_floor_ = floor;
  const uint64_t ahead = std::min(kWarmAheadBytes, floor - std::min(floor, first_floor_));
  warmer_->advance(floor, std::min(space_->ready_end(), floor + ahead));
}

Result<StorageStats> LedgerEnv::storage_stats() {
  ARTANA_ASSIGN_OR_RETURN(GuardedTxn txn, begin_read());
  MDB_envinfo info;
  int rc = mdb_env_info(env_, &info);
  if (rc != 0) return lmdb_status(rc, "reading the environment info", data_path_);
  StorageStats stats;
  stats.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * page_bytes_;
  stats.map_bytes = info.me_mapsize;
  struct stat st;
  if (::stat(data_path_.c_str(), &st) != 0)
    return lmdb_status(errno, "reading the size", data_path_);
  stats.file_bytes = static_cast<uint64_t>(st.st_size);
  return stats;
}

int LedgerEnv::check_stale_readers() {
  int dead = 0;
  mdb_reader_check(env_, &dead);
  return dead;
}

}  // namespace artana::kernel::ledger
